"""A student's kernel that dies while it runs a cell (its own code ends it, or the memory limit does):
Jupyter starts it again, and the page's next websocket has its outputs from its first cell on.

Through a real node (process backend), as the notebook page does it (:mod:`tests.spawner.test_warm_kernel`
has the helpers). The server's record of the dead kernel said "busy" (the cell it died in never ended),
and Jupyter does not ask a busy kernel whether a new websocket's outputs reach it: a cell run at once
on a websocket opened then got its reply and lost its outputs (seen in the docker memory-limit test).
"""
from __future__ import annotations

import pytest

from tests.e2e.browser import KernelDied
from tests.spawner.test_warm_kernel import NOTEBOOK, opened, warm_kernel

# the cell that kills its own kernel, once the server has seen it busy
SUICIDE = "import os, signal, time\ntime.sleep(0.3)\nos.kill(os.getpid(), signal.SIGKILL)"
RESTART_WAIT = 30.0  # seconds for Jupyter to notice the death (every 3 s) and start the kernel again


@pytest.fixture(scope="module", params=["forked", "cold"])
def any_node(request, make_node):
    """A node whose kernels are forked by its zygote, and one whose kernels start cold (as a restarted
    kernel does in a student's container): the new kernel binds its sockets after the server sees it alive."""
    made = make_node(HEARTBEAT_INTERVAL="0.5", KERNEL_ZYGOTE="true" if request.param == "forked" else "false")
    made.start_agent()
    return made


@pytest.fixture
def dead_kernel(any_node, command, student):
    """A student's browser and link, and their kernel killed by the cell it was running."""
    node = any_node
    browser, link = opened(node, command, student)
    warm, _ = warm_kernel(node, browser, link)
    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        assert kernel.execute("print(6 * 7)").printed.strip() == "42"
        with pytest.raises(KernelDied):  # the server's news on the page's websocket: the kernel restarts
            kernel.execute(SUICIDE, timeout=RESTART_WAIT)
        assert kernel.id == warm
        yield browser, link, kernel


def states(browser, link) -> list[str]:
    """The kernels' states as the server lists them (the page's and Jupyter's own record)."""
    listed = browser.http.get(browser.url(f"{link.prefix}api/kernels"), timeout=10)
    assert listed.status_code == 200, listed.text
    return [kernel["execution_state"] for kernel in listed.json()]


def test_a_websocket_opened_once_the_killed_kernel_is_back_has_its_first_cells_output(dead_kernel):
    browser, link, kernel = dead_kernel
    kernel.until_answering(RESTART_WAIT)
    assert states(browser, link) in (["starting"], ["idle"]), "the new kernel, not the dead one's last cell"
    with browser.kernel(link, notebook_path=NOTEBOOK) as again:
        assert again.id == kernel.id
        assert again.execute("print(6 * 7)", timeout=RESTART_WAIT).printed.strip() == "42"


def test_a_websocket_opened_while_the_killed_kernel_restarts_has_its_first_cells_output(dead_kernel):
    browser, link, kernel = dead_kernel
    with browser.kernel(link, notebook_path=NOTEBOOK, timeout=RESTART_WAIT) as again:  # at once, as a reload does
        assert again.id == kernel.id
        assert again.execute("print(6 * 7)", timeout=RESTART_WAIT).printed.strip() == "42"
        # and the page's own websocket, which saw the restart, has the outputs too
        kernel.until_answering(RESTART_WAIT)
        assert kernel.execute("print('toujours là')", timeout=RESTART_WAIT).printed.strip() == "toujours là"
