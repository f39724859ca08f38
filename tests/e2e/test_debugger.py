"""The step-by-step tool of Notebook 7 is Jupyter's debugger: a student's python3 kernel, reached through
the platform (HAProxy → node proxy → server → kernel websocket), answers it as the debugger panel asks
(Debug Adapter Protocol over the control channel), stops at a breakpoint, shows the variables there and
goes on to the cell's end."""
from __future__ import annotations

import itertools
import json
import time
import uuid

import pytest

from tests.e2e.test_main_flow import share_path

pytestmark = pytest.mark.e2e

CELL = "total = 0\nfor k in range(1, 4):\n    total = total + k\nprint('fin', total)\n"
_seq = itertools.count(1)


def send(kernel, msg_type: str, channel: str, content: dict) -> str:
    msg_id = uuid.uuid4().hex
    kernel.conn.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": msg_type, "username": kernel.username, "session": kernel.session,
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": channel, "content": content}))
    return msg_id


def receive(kernel, wanted) -> dict:
    """The next message ``wanted(message)`` accepts (the others are what the page would also receive)."""
    kernel.conn.settimeout(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = json.loads(kernel.conn.recv())
        if wanted(message):
            return message
    raise TimeoutError("no such message in 60 s")


def debug(kernel, command: str, **arguments) -> dict:
    """One request of the debugger panel; its reply's content, which must say success."""
    msg_id = send(kernel, "debug_request", "control",
                  {"type": "request", "seq": next(_seq), "command": command, "arguments": arguments})
    reply = receive(kernel, lambda m: m["header"]["msg_type"] == "debug_reply"
                    and m["parent_header"].get("msg_id") == msg_id)["content"]
    assert reply["success"] is True, reply
    return reply.get("body", {})


def debug_event(kernel, event: str) -> dict:
    return receive(kernel, lambda m: m["header"]["msg_type"] == "debug_event" and m["content"]["event"] == event)


def test_a_student_runs_a_cell_step_by_step(student, activity):
    pupil = student("eleve")
    link = pupil.open_share(share_path(activity))
    assert pupil.enter(link).status_code == 200
    with pupil.kernel(link) as kernel:
        assert kernel.execute("1 + 1").error is None
        debug(kernel, "initialize", clientID="capytale-tests", adapterID="python", pathFormat="path",
              linesStartAt1=True, columnsStartAt1=True, supportsVariableType=True)
        debug(kernel, "attach")
        source = debug(kernel, "dumpCell", code=CELL)["sourcePath"]
        debug(kernel, "setBreakpoints", source={"path": source}, breakpoints=[{"line": 3}], sourceModified=False)
        debug(kernel, "configurationDone")

        execution = send(kernel, "execute_request", "shell", {
            "code": CELL, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
            "stop_on_error": True})
        thread = debug_event(kernel, "stopped")["content"]["body"]["threadId"]
        [frame, *_] = debug(kernel, "stackTrace", threadId=thread)["stackFrames"]
        assert frame["line"] == 3
        scopes = debug(kernel, "scopes", frameId=frame["id"])["scopes"]
        seen = {v["name"]: v["value"] for v in debug(kernel, "variables",
                                                       variablesReference=scopes[0]["variablesReference"])["variables"]}
        assert seen["total"] == "0" and seen["k"] == "1"  # stopped before the first addition

        debug(kernel, "setBreakpoints", source={"path": source}, breakpoints=[], sourceModified=False)
        went_on = send(kernel, "debug_request", "control",
                       {"type": "request", "seq": next(_seq), "command": "continue", "arguments": {"threadId": thread}})
        printed, replied = [], False
        while not (printed and replied):  # the cell's output and the reply come in either order
            message = receive(kernel, lambda m: m["parent_header"].get("msg_id") in (execution, went_on))
            if message["header"]["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            replied |= message["header"]["msg_type"] == "debug_reply"
        assert printed == ["fin 6\n"]
        debug(kernel, "disconnect", restart=False, terminateDebuggee=False)
