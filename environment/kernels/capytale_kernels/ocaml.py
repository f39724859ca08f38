"""The OCaml kernel: a metakernel kernel in front of Debian's OCaml toplevel.

``python -m capytale_kernels.ocaml -f {connection_file}`` (the ``ocaml`` kernelspec).  A cell holds
any number of phrases, with or without ``;;``, and runs as ``#use`` would run it: phrase by phrase,
stopping at the first error.  The toplevel's answers (``val fact : int -> int = <fun>``) are the
cell's result, what the program prints is streamed as it comes, and an error (a type error, a
syntax error, an exception) is the cell's error, so that "stop on error" works.
"""
from __future__ import annotations

import os
from typing import Any

from metakernel import ExceptionWrapper

from capytale_kernels import __version__
from capytale_kernels.base import CapytaleKernel
from capytale_kernels.ocaml_toplevel import CellOutcome, Toplevel, ToplevelError


class OCamlKernel(CapytaleKernel):
    implementation = "capytale-ocaml"
    implementation_version = __version__
    language = "ocaml"
    language_version = ""
    banner = "OCaml (toplevel de Debian)"
    app_name = "capytale_ocaml"
    language_info = {
        "name": "ocaml",
        "mimetype": "text/x-ocaml",
        "file_extension": ".ml",
        "codemirror_mode": "mllike",
        "pygments_lexer": "ocaml",
        "version": "",
    }
    # "!r" dereferences r in OCaml: a cell starting with it must not become a shell command.  A
    # trailing "?" is not OCaml either way; metakernel's "%" magics stay.
    magic_prefixes = {"magic": "%", "shell": "\0", "help": "?"}
    help_suffix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.toplevel = Toplevel(cwd=os.getcwd())
        self._start_toplevel()

    def _start_toplevel(self) -> str | None:
        """Start the toplevel; returns why it could not start (said in the cell that needs it)."""
        try:
            version = self.toplevel.start()
        except ToplevelError as exc:
            self.toplevel.stop()
            self.log.error("OCaml toplevel: %s", exc)
            return str(exc)
        self.language_version = version
        self.language_info = {**self.language_info, "version": version}
        return None

    def do_execute_direct(self, code: str, silent: bool = False) -> Any:
        if not self.toplevel.alive:
            self.toplevel.stop()
            problem = self._start_toplevel()
            if problem is not None:
                return ExceptionWrapper("OCamlUnavailable", problem, [problem])
        emit = (lambda _name, _text: None) if silent else self._stream
        try:
            outcome = self.toplevel.run(code, emit)
        except ToplevelError as exc:
            self.toplevel.stop()
            self._start_toplevel()
            notice = (f"{exc}\nLe toplevel OCaml s'est arrêté ; il a été relancé : les définitions "
                      "précédentes sont perdues.")
            return ExceptionWrapper("ToplevelExited", notice, notice.splitlines())
        return self._result(outcome, silent)

    def _stream(self, name: str, text: str) -> None:
        self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def _result(self, outcome: CellOutcome, silent: bool) -> Any:
        """The answers as the cell's result; on an error, the answers of the phrases before it, then the error."""
        answers = {"text/plain": outcome.answers} if outcome.answers else None
        if outcome.succeeded:
            return answers
        if answers is not None and not silent:
            self.DisplayData(answers)
        return ExceptionWrapper(*describe_error(outcome.error))

    def restart_kernel(self) -> None:
        """metakernel's ``%restart``: a fresh toplevel in the same kernel."""
        self.toplevel.stop()
        self._start_toplevel()

    def release(self) -> None:
        self.toplevel.stop()


def describe_error(message: str) -> tuple[str, str, list[str]]:
    """``(ename, evalue, traceback)`` of a toplevel's message, the traceback being the message itself.

    ``Exception: Failure "boom".`` → ``("Exception", 'Failure "boom".', …)``; a compiler error, with its
    location and the code underlined, → ``("Error", "This expression has type…", …)``.
    """
    text = message.strip("\n")
    traceback = text.splitlines() or ["Error"]
    if text.startswith("Exception:"):
        return "Exception", text[len("Exception:"):].strip(), traceback
    if text.startswith("Interrupted."):
        return "Interrupted", text, traceback
    if text.startswith("Stack overflow"):
        return "Stack_overflow", text, traceback
    if text.startswith("Out of memory"):
        return "Out_of_memory", text, traceback
    _, found, rest = text.partition("Error: ")
    if found:
        return "Error", " ".join(line.strip() for line in rest.splitlines()), traceback
    return "Error", text, traceback


def main() -> None:
    OCamlKernel.run_as_main()


if __name__ == "__main__":
    main()
