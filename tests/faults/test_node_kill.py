"""A node's spawner agent and proxy are killed (SIGKILL) during a class, then started again."""
from __future__ import annotations

import json
import os
import signal

import pytest

from tests.faults.classroom import RETRY_PAGE, Pupil, unless_cut
from tests.faults.private import wait_until

pytestmark = pytest.mark.e2e

MAX_SEATS = 8  # placement spreads a class over the nodes; this many students give two on one node


def server_pid(platform, pupil: Pupil) -> int:
    """The pid of the pupil's server, from its node's state file."""
    state = platform.var_dir / "run" / str(pupil.link.node) / f"{pupil.link.key}.json"
    return json.loads(state.read_text())["pid"]


def kill_hard(process) -> None:
    """SIGKILL to a platform process's whole session (the agent and its zygote; the proxy)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.popen.wait(timeout=30)


def told_to_try_again(answer, what: str) -> None:
    assert answer.status_code in (502, 503) and RETRY_PAGE.search(answer.text), (
        f"{what}: {answer.status_code} {answer.text[:300]}")


def server_gone(answer) -> bool:
    """The JSON an open notebook page's call gets when its server (or its node's proxy) is away: Jupyter
    shows its French message and keeps the edits in the page."""
    if answer is None:
        return False  # a call cut at the kill (see unless_cut)
    if answer.status_code != 503 or not answer.headers.get("Content-Type", "").startswith("application/json"):
        told_to_try_again(answer, "a call of the open page, before HAProxy sees the node down")  # the French page
        return False
    gone = answer.json()
    assert gone["reason"] == "server_gone" and "tes modifications restent dans la page" in gone["message"], gone
    return True


def test_a_node_killed_during_a_class_comes_back_with_its_students(whole, classroom, operator):
    """Node k's spawner agent (with its zygote) and its proxy get SIGKILL during a class; the students'
    servers, in sessions of their own, live on.  Then both are started again.

    Lost: nothing saved.  While the node is away its students' open pages get a 503 on every call, a save
    included: HAProxy's French page for the first seconds, then (once its health check finds the node's
    proxy gone) the JSON of a server gone, whose French message Jupyter shows; a page reloaded gets the
    French page ("Réessaie dans un instant").  What they type meanwhile stays in the page, and the next
    autosave once the node is back writes it (the outage's typing waits, none is lost while the page
    stays open).  The router stops placing anyone there once the node's
    heartbeats stop (``NODE_SILENCE``): a newcomer goes to another node, and so does a student of the
    node who clicks the link again, on a new server over the same saved work (the old kernel's
    variables are not there).  Students elsewhere notice nothing.  When the node is back its agent
    adopts the servers still running (same pids) and puts their routes back: the students who kept
    their page continue in the same server and the same kernel (``x`` still defined), with their saves.
    """
    platform = whole
    on_node: dict[int, list[Pupil]] = {}
    while not (any(len(p) >= 2 for p in on_node.values()) and len(on_node) >= 2):
        assert len(classroom.pupils) < MAX_SEATS, f"placement put {MAX_SEATS} students on {sorted(on_node)} only"
        pupil = classroom.seat("en-classe")
        on_node.setdefault(pupil.link.node, []).append(pupil)
    k = next(node for node, pupils in on_node.items() if len(pupils) >= 2)
    stays, moves = on_node[k][:2]  # one keeps their page open, one clicks the link again
    elsewhere = [p for node, pupils in on_node.items() if node != k for p in pupils]
    for pupil in classroom.pupils:
        pupil.saves_fine()
        pupil.runs_fine()
    servers = {pupil.name: server_pid(platform, pupil) for pupil in (stays, moves)}

    kill_hard(platform.processes[f"spawner{k}"])
    kill_hard(platform.processes[f"chp{k}"])
    stays.lose_kernel_connection()
    # the open page's saves: HAProxy's French page until its health check finds the proxy gone, then the JSON
    wait_until(lambda: server_gone(unless_cut(stays.save)), 15, f"{stays.name}'s save answered as a server gone")
    told_to_try_again(stays.browser.enter(stays.link), f"{stays.name}'s notebook page while node {k} is down")
    for pupil in elsewhere:
        pupil.saves_fine()
        pupil.runs_fine()
    classroom.reopen(moves)  # placed elsewhere once the node is silent, on the same saved work
    assert moves.link.node != k, f"{moves.name} was sent back to the dead node {k}"
    moves.saves_fine()
    moves.runs_fine()
    newcomer = classroom.seat("pendant-la-panne")
    assert newcomer.link.node != k, f"a newcomer was placed on the dead node {k}"
    newcomer.saves_fine()

    platform.start_again(f"chp{k}")
    platform.start_again(f"spawner{k}")
    # the page that stayed open saves again once HAProxy sees the node's proxy back and the agent put its route back
    wait_until(lambda: getattr(unless_cut(stays.save), "status_code", None) == 200, 30,
               f"{stays.name}'s save after node {k} came back")
    assert server_pid(platform, stays) == servers[stays.name], "the same server, adopted"
    stays.runs_fine()  # the same kernel, reached again: x is still there
    operator.wait_heartbeats(k, 2, 30)  # the router counts the node as live again
    classroom.reopen(stays)
    assert stays.link.node == k, f"{stays.name} is sent to their own node {k} again"
    stays.saves_fine()
    for pupil in classroom.pupils:
        pupil.saves_fine()
    classroom.nothing_lost()
