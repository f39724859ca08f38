// A node's proxy: configurable-http-proxy 5, started as its own command line does, with one change.
//
// CHP gives a Unix-socket target no agent, so each request goes on a new connection marked
// "Connection: close". After a request with a body (a save, a kernel session's change), Node writes
// one more, empty, chunk; the student's server has already answered and closed the socket, and on a
// Unix socket that write fails at once with EPIPE: CHP answers 503 (nodejs/node#41062, #40553).
// Here the students' sockets get a keep-alive agent, as CHP's TCP targets have: the connection
// stays open after the answer, and is reused by the next request to the same socket. An idle
// connection is closed after a few seconds, so that a server started again behind the same socket
// path (or anything else bound there) is reached by new connections, never by old ones.
//
// Run as `node services/spawner/chp.mjs <configurable-http-proxy's options>`.
import http from "node:http";

import ConfigurableProxy from "configurable-http-proxy/lib/configproxy.js";

const toStudentSockets = new http.Agent({ keepAlive: true, timeout: 4000 });

const targetOptions = ConfigurableProxy.prototype.proxyOptsForTarget;
ConfigurableProxy.prototype.proxyOptsForTarget = function (target) {
  const options = targetOptions.call(this, target);
  if (options.target.socketPath) {
    options.agent = toStudentSockets;
  }
  return options;
};

await import("configurable-http-proxy/bin/configurable-http-proxy");
