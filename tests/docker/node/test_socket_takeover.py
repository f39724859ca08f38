"""A student's kernel cannot put a server of its own behind its route (docker backend).

The kernel runs as its server's user and sees the socket folder: it can unlink the server's
socket and bind its own there, or try to take the server's listening socket with
``pidfd_getfd``. The node's proxy uses a hard link the agent made outside every container
(``<node>/routed/``), and the server is not dumpable: both attempts reach nothing.
"""
from __future__ import annotations

import json
import time
import uuid

import requests
import websocket

from tests.spawner.conftest import issue_grant

IMPOSTOR = '''
import os, socket, threading
path = "/capytale/socket/jupyter.sock"
os.unlink(path)
listening = socket.socket(socket.AF_UNIX)
listening.bind(path)
listening.listen(16)
def serve():
    while True:
        connection, _ = listening.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 8\\r\\nConnection: close\\r\\n\\r\\nimpostor")
        connection.close()
threading.Thread(target=serve, daemon=True).start()
print("bound", os.path.exists(path))
'''

STEAL = '''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
server = os.getppid()
pidfd = os.pidfd_open(server)
stolen, errors = [], set()
for fd in range(3, 256):
    got = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    if got >= 0:
        stolen.append(fd)
    else:
        errors.add(ctypes.get_errno())
try:
    listed = len(os.listdir(f"/proc/{server}/fd"))
except PermissionError:
    listed = "refused"
print(stolen, sorted(errors), listed)
'''


def execute(browser: requests.Session, node, user_key: str, kernel_id: str, code: str) -> str:
    """``code`` run in the kernel over its websocket, through the node's proxy; what it printed."""
    channels = node.url(user_key, f"api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)
    socket = websocket.create_connection(channels.replace("http://", "ws://"), cookie=cookies, timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user_key,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        printed = ""
        while True:
            message = json.loads(socket.recv())
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed += message["content"]["text"]
            elif message["msg_type"] == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return printed
    finally:
        socket.close()


def test_a_kernel_that_replaces_its_servers_socket_is_not_what_the_proxy_reaches(node, command, student):
    command(node, "server.ensure", user_key=student.key)
    state = node.state(student.key)
    assert "/routed/" in state["socket_path"], "the route names the agent's link, not the container's socket"
    browser = requests.Session()
    assert browser.get(node.url(student.key, "tree"), params={"grant": issue_grant(node, student.key, student)}).ok
    xsrf = {"X-XSRFToken": browser.cookies["_xsrf"]}
    kernel = browser.post(node.url(student.key, "api/kernels"), json={"name": "python3"}, headers=xsrf)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]

    assert execute(browser, node, student.key, kernel_id, IMPOSTOR).strip() == "bound True"
    time.sleep(5)  # past the proxy's idle keep-alive (services/spawner/chp.mjs): new connections only
    for _ in range(5):
        answer = requests.get(node.url(student.key, "api/status"), cookies=browser.cookies, timeout=10)
        assert answer.status_code == 200 and answer.json().get("kernels") == 1, answer.text[:200]
    printed = execute(browser, node, student.key, kernel_id, STEAL).strip()
    assert printed.startswith("[] [1]") and printed.endswith("refused"), \
        f"the server's sockets stay its own (EPERM, /proc/<server>/fd closed): {printed}"
