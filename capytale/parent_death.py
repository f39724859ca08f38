"""A child that dies with its parent, even when the parent is killed hard (Linux's parent-death signal).

``prctl(PR_SET_PDEATHSIG, sig)`` asks the kernel to send ``sig`` to the calling
process when its parent ends, whatever the way (SIGKILL included). Three
things to know:

* it fires when the *thread* that forked the child ends, not only the
  process: fork from the main thread, or from a thread that lives as long
  as the parent;
* it is set by the child, after the fork: if the parent died in between, no
  signal ever comes, so the child compares ``os.getppid()`` with the pid it
  expects once the setting is made;
* it survives ``exec`` (not of a set-user-ID program) and ``setsid``, and a
  fork's child does not inherit it.

:func:`die_with_parent` does it in a process of ours (a student's server forked
by the zygote). :func:`command` wraps a command line so that the program it
runs does it before it starts: this file, run as a script, makes the setting,
puts back the default action of the stop signals (an ignored disposition and
a blocked signal survive ``exec``) and of those Python's start ignores, then executes the program in the same
process, so the pid the parent knows stays the program's. It is run with
``-I -S`` by its path and imports nothing from the project: it costs a bare
interpreter's start (a few tens of milliseconds), never a fork from a
threaded parent's ``preexec_fn``.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Signals people and supervisors stop processes with: their default action is put back before exec.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
# What this interpreter's start ignored, as subprocess's restore_signals puts them back for the program.
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)
SUPPORTED = sys.platform.startswith("linux")


class ParentGone(RuntimeError):
    """The parent ended before the parent-death signal was set: no signal will ever come."""


def die_with_parent(signum: int, parent: int) -> None:
    """Have the kernel send ``signum`` to this process when ``parent`` (its parent, by pid) ends.

    Raises :class:`ParentGone` when ``parent`` is no longer the parent (it died before the call),
    :class:`OSError` when the kernel refuses."""
    if not SUPPORTED:
        raise OSError(f"no parent-death signal on {sys.platform}")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent:  # the parent died between the fork and the prctl
        raise ParentGone(f"parent {parent} is gone (parent now {os.getppid()})")


def command(argv: list[str], signum: int = signal.SIGTERM) -> list[str]:
    """``argv`` run so that it gets ``signum`` when this process ends (``argv`` itself where Linux's
    parent-death signal does not exist)."""
    if not SUPPORTED:
        return list(argv)
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), str(int(signum)), "--", *argv]


def _exec(arguments: list[str]) -> None:
    """``<parent pid> <signal> -- <program> <arguments…>``: the setting, the signals, then the program."""
    if len(arguments) < 4 or arguments[2] != "--":
        sys.exit("usage: parent_death.py <parent pid> <signal number> -- <program> [arguments…]")
    parent, signum, program = int(arguments[0]), int(arguments[1]), arguments[3:]
    try:
        die_with_parent(signum, parent)
    except ParentGone:
        os._exit(128 + signum)  # as the signal would have done
    for stop in (*STOP_SIGNALS, *PYTHON_IGNORES):
        signal.signal(stop, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        os.execvp(program[0], program)
    except OSError as exc:
        print(f"parent_death: cannot run {program[0]}: {exc}", file=sys.stderr, flush=True)
        os._exit(127)


if __name__ == "__main__":
    _exec(sys.argv[1:])
