from collections import Counter

from services.router.nodes import NodeBoard


def test_a_class_is_spread_over_the_live_nodes():
    board = NodeBoard(silence=10)
    for node in (1, 2, 3, 4):
        board.heartbeat(node, servers=0, now=100)
    placed = Counter(board.choose(now=101) for _ in range(35))
    assert set(placed) == {1, 2, 3, 4}
    assert max(placed.values()) - min(placed.values()) <= 1


def test_a_silent_node_gets_no_new_student():
    board = NodeBoard(silence=10)
    board.heartbeat(1, servers=0, now=100)
    board.heartbeat(2, servers=5, now=95)
    assert board.live(now=106) == [1]
    assert {board.choose(now=106) for _ in range(5)} == {1}
    assert board.choose(now=200) is None


def test_the_least_loaded_node_is_chosen():
    board = NodeBoard(silence=10)
    board.heartbeat(1, servers=9, now=0)
    board.heartbeat(2, servers=2, now=0)
    assert board.choose(now=1) == 2


def test_waiting_for_one_node_is_not_answered_by_another():
    """A router whose link came back waits for the student's own node, not for the first to beat."""
    import threading
    import time

    board = NodeBoard(silence=10)
    board.heartbeat(1, servers=0)
    began = time.monotonic()
    assert board.wait_for_live(0.3, node=2) is False and time.monotonic() - began >= 0.3
    threading.Timer(0.1, board.heartbeat, args=(2, 0)).start()
    assert board.wait_for_live(5, node=2) is True
    assert board.wait_for_live(0, node=1) is True
