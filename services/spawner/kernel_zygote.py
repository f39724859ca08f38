"""The kernels' zygote: one warm Python of the students' environment that forks a kernel per request.

A kernel's cold start spends most of its CPU importing ipykernel, IPython, pyzmq and debugpy
(about 0.4 CPU-second here); when a class arrives, that is most of what the node does. This
process imports them once, with the interpreter and flags of the environment's Python kernelspec
(``python -Xfrozen_modules=off``), and then forks: a kernel forked from it starts in a few
hundredths of a second and shares those pages with every other one.

It runs under the students' environment's interpreter, which has none of the platform's modules:
it uses the standard library, what that environment holds, and two modules of the platform's that
need nothing more (:mod:`.forking`, :mod:`.jupyter.priority`), loaded by their paths without
entering ``sys.modules`` (a student's ``import services`` finds nothing). The process backend
starts one per node (``<python> <flags> kernel_zygote.py --control-fd N --socket PATH …``) and
names the socket in each server's spec; a server asks it for a kernel
(:mod:`services.spawner.jupyter.forked_kernel`) on a connection of its own, one JSON line::

    → {"argv": [...], "env": {...}, "cwd": "..."}   with the server's stdout and stderr (SCM_RIGHTS)
    ← {"pid": 4242}   or   {"error": "…"}

``argv`` is the command Jupyter would have run (the kernelspec's, its connection file filled in):
only the kernelspec this zygote imitates is forked, any other is refused and launched as usual. The
child then becomes what that command would have made: a session of its own, stdin from
/dev/null, stdout and stderr the server's, the given environment and folder, ``sys.argv`` and
``sys.path`` as ``ipykernel_launcher`` has them, the students' priority, then
``IPKernelApp`` reading its connection file. Nothing of the zygote's runs in it but imports: the
zygote never runs a student's code, so no kernel ever holds a trace of another's. (They do share
the zygote's hash seed, which hides nothing: ``random`` is reseeded in each child.)

A forked kernel is the zygote's child, not its server's: instead of ipykernel's parent poller
(which watches its parent), it watches the server that asked for it (a pidfd taken on the
connection's peer) and ends its whole process group when that server ends, however it ended.
Its name (``/proc/<pid>/comm``) is ``kernel-<server pid>``: that is how the backend finds the
kernels of a server (its memory, what is left when it is killed).

The zygote stays single-threaded, reaps its children, and exits when its control socket closes
(the agent is gone); the kernels live on with their servers.
"""
import sys

if __name__ == "__main__":
    del sys.path[0]  # this file's folder: the platform's modules must not shadow the environment's

import argparse
import importlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import struct
import threading
import traceback


def _load(relative_path: str):
    """A module of the platform's that imports only the standard library, from its file beside this one."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), relative_path)
    spec = importlib.util.spec_from_file_location(f"_capytale_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forking = _load("forking.py")
priority = _load(os.path.join("jupyter", "priority.py"))

# What a kernel imports to start and to answer its first cell, in the order it does
PRELOADED = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "ipykernel.comm",
    "ipykernel.iostream",
    "ipykernel.heartbeat",
    "ipykernel.control",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "IPython.core.history",
    "IPython.core.magics",
    "jupyter_client.session",
    "zmq.eventloop.zmqstream",
    "tornado.ioloop",
)
LAUNCHER = ("-m", "ipykernel_launcher", "-f")
REQUEST_MAX = 1 << 20


class Refused(Exception):
    """A request this zygote does not serve: the server launches that kernel itself."""


class KernelZygote:
    def __init__(self, control: socket.socket, listener: socket.socket, argv_prefix: list):
        self.control = control
        self.listener = listener
        self.argv_prefix = argv_prefix
        self._selector = selectors.DefaultSelector()
        self.children = forking.Children(self._selector)

    def serve(self) -> None:
        self.children.watch()
        for watched in (self.control, self.listener):
            self._selector.register(watched, selectors.EVENT_READ)
        while True:
            for key, _events in self._selector.select():
                if self.children.woke(key):
                    self.children.reap()
                elif key.fileobj == self.control:
                    if not self.control.recv(4096):
                        return  # the agent is gone
                else:
                    self._serve_one()

    def _serve_one(self) -> None:
        try:
            connection, _address = self.listener.accept()
        except BlockingIOError:
            return
        fds = []
        try:
            connection.settimeout(5)
            request, fds, peer = _receive(connection)
            reply = {"pid": self.fork(request, fds, peer, connection)}
        except Refused as refusal:
            reply = {"error": str(refusal), "refused": True}
        except Exception as exc:  # noqa: BLE001 - the server gets the error, the zygote goes on
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        try:
            connection.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass  # the server gave up waiting; a kernel it forked finds it gone and ends
        connection.close()

    def fork(self, request: dict, fds: list, peer: tuple, connection: socket.socket) -> int:
        server_pid, server_uid = peer
        if server_uid != os.geteuid():
            raise Refused("a kernel is forked for a server of this user only")
        argv = request.get("argv")
        if (not isinstance(argv, list) or argv[:-1] != [*self.argv_prefix, *LAUNCHER]
                or not isinstance(argv[-1], str)):
            raise Refused("not the kernelspec this zygote imitates")
        env, cwd = request.get("env"), request.get("cwd")
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError("env: a mapping of strings")
        if not isinstance(cwd, str) or not os.path.isabs(cwd):
            raise ValueError("cwd: the kernel's folder, an absolute path")
        if len(fds) != 2:
            raise ValueError("stdout and stderr expected with the request")
        if threading.active_count() > 1:
            raise RuntimeError("the zygote has started a thread: refusing to fork")
        server = os.pidfd_open(server_pid)  # before the fork: a server gone by now is never watched wrongly
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            connection.close()
            self._become_kernel(argv[-1], env, cwd, fds, server, server_pid)
        os.close(server)
        self.children.pids.add(pid)
        return pid

    def _become_kernel(self, connection_file, env, cwd, fds, server, server_pid) -> None:
        """In the child: what ``python <flags> -m ipykernel_launcher -f <connection_file>`` would have been."""
        code = 1
        try:
            self.children.leave_behind()
            for closable in (self.control, self.listener):
                closable.close()
            os.setsid()
            priority.yield_cpu()
            forking.name_process(forking.forked_kernel_name(server_pid))
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            for fd in (null, *fds):
                os.close(fd)
            os.environ.clear()
            os.environ.update(env)
            os.chdir(cwd)
            import tempfile

            tempfile.tempdir = None  # found again from TMPDIR, the student's
            launcher = importlib.util.find_spec("ipykernel_launcher").origin
            sys.argv = [launcher, "-f", connection_file]
            code = _run_kernel(server, sys.argv[1:], server_pid)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - whatever happens, the child never returns into the zygote
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _run_kernel(server: int, argv: list, server_pid: int) -> int:
    from ipykernel.kernelapp import IPKernelApp

    class ForkedKernelApp(IPKernelApp):
        """ipykernel's application, watching its server instead of its parent (the zygote)."""

        def init_poller(self):
            self.poller = ServerWatcher(server)

    ForkedKernelApp.launch_instance(argv=argv, parent_handle=server_pid)  # a parent: no console banner
    return 0


class ServerWatcher(threading.Thread):
    """Ends the kernel's process group (the kernel and what it started) when its server has ended."""

    def __init__(self, server: int):
        super().__init__(name="server-watcher", daemon=True)
        self.server = server

    def run(self) -> None:
        import select

        poller = select.poll()
        poller.register(self.server, select.POLLIN)
        while not poller.poll():
            pass
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _receive(connection: socket.socket):
    """One request line and the file descriptors sent with it; the peer's (pid, uid)."""
    data, fds, _flags, _address = socket.recv_fds(connection, 65536, 2)
    try:
        while not data.endswith(b"\n"):
            more = connection.recv(65536)
            if not more or len(data) > REQUEST_MAX:
                raise ValueError("incomplete request")
            data += more
        pid, uid, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                                   struct.calcsize("3i")))
        return json.loads(data), fds, (pid, uid)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def preload() -> None:
    """Import what every kernel imports, so that children start with it."""
    import gc

    for name in PRELOADED:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # a child's collector never writes to these objects: their pages stay shared


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control-fd", type=int, required=True, help="the agent's socket: the zygote ends with it")
    parser.add_argument("--socket", required=True, help="path of the socket servers ask for kernels on")
    parser.add_argument("--argv-prefix", required=True,
                        help="JSON: the kernelspec's command before '-m ipykernel_launcher -f …'")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    preload()
    try:
        os.unlink(args.socket)  # a previous zygote's, which ended with its agent
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        listener.bind(args.socket)  # 0600: this user's servers only
    finally:
        os.umask(old_mask)
    listener.listen(64)
    listener.setblocking(False)
    control.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    try:
        KernelZygote(control, listener, json.loads(args.argv_prefix)).serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
