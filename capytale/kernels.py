"""The kernels of the students' environment, and which one a notebook opens on.

The table (``environment/kernels.toml``, setting ``CAPYTALE_KERNELS_FILE``) has one
TOML table per kernel the students' environment provides, named by its kernelspec
name (``[python3]``), with its ``display_name`` and ``language`` and the names
notebooks carry for it: ``names`` (exact kernelspec names; the table's own name is
one), ``prefixes`` (kernelspec names starting so: VS Code writes
``python36964bit…``) and ``languages`` (the kernelspec's ``language`` or
``metadata.language_info.name``).  Names, prefixes and languages are compared
without regard to case.

:func:`load` reads and checks a table: a field that is missing, of the wrong type or
unknown, or a name two kernels claim, raises :class:`KernelsError` naming the file
and the table.  :meth:`Kernels.resolve` maps a notebook's metadata to a
:class:`KernelChoice`: an exact name first, then the longest prefix, then the
language.  A notebook that names neither a kernel nor a language (an old nbformat
3 notebook) is a Python notebook.  No kernel found: the choice is *missing*, and
says what the notebook asked for.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

# The repository's table, found from this package (the checkout, or /opt/capytale in the platform's image).
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "environment" / "kernels.toml"
FALLBACK_LANGUAGE = "python"  # what a notebook that names no kernel and no language is written in
KERNEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*", re.IGNORECASE)  # what Jupyter accepts as a kernelspec name
REQUIRED = ("display_name", "language")
LISTS = ("names", "prefixes", "languages")


class KernelsError(ValueError):
    """The kernels table cannot be read or is wrong; the message names the file and the table."""


@dataclass(frozen=True)
class Kernel:
    """One kernel of the students' environment and the names notebooks carry for it."""

    name: str  # its kernelspec name, the table's name
    display_name: str
    language: str
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def kernelspec(self) -> dict[str, str]:
        """The ``metadata.kernelspec`` of a notebook that opens on this kernel."""
        return {"name": self.name, "display_name": self.display_name, "language": self.language}


@dataclass(frozen=True)
class KernelChoice:
    """Which kernel a notebook opens on: ``name`` None when the environment has none for it.

    ``asked`` is what the notebook named (its kernelspec name, else its language; empty when it
    names nothing); when missing, ``display_name`` and ``language`` are the notebook's own.
    """

    name: str | None
    display_name: str
    language: str
    asked: str

    @property
    def missing(self) -> bool:
        return self.name is None

    def kernelspec(self) -> dict[str, str] | None:
        """The kernelspec a notebook opening on this kernel carries; None when missing."""
        if self.name is None:
            return None
        return {"name": self.name, "display_name": self.display_name, "language": self.language}

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, "missing": self.missing, "asked": self.asked}


class Kernels:
    """A checked kernels table (see :func:`load`)."""

    def __init__(self, kernels: Sequence[Kernel], source: Path | None = None):
        self.source = source
        self._kernels = tuple(kernels)
        self._names = {name.lower(): k for k in self._kernels for name in (k.name, *k.names)}
        self._prefixes = sorted(((p.lower(), k) for k in self._kernels for p in k.prefixes),
                                key=lambda item: -len(item[0]))
        self._languages = {language.lower(): k for k in self._kernels for language in k.languages}

    def __iter__(self) -> Iterator[Kernel]:
        return iter(self._kernels)

    def __len__(self) -> int:
        return len(self._kernels)

    def find(self, name: str) -> Kernel | None:
        """The kernel whose kernelspec name is ``name`` (any case), None if there is none."""
        return next((k for k in self._kernels if k.name.lower() == name.lower()), None)

    def resolve(self, metadata: Mapping[str, Any] | None) -> KernelChoice:
        """The kernel a notebook with this ``metadata`` opens on: exact name, prefix, then language."""
        metadata = metadata if isinstance(metadata, Mapping) else {}
        spec = _mapping(metadata.get("kernelspec"))
        name = _text(spec.get("name"))
        languages = [language for language in (_text(spec.get("language")),
                                               _text(_mapping(metadata.get("language_info")).get("name")))
                     if language]
        asked = name or (languages[0] if languages else "")
        if not asked:
            languages = [FALLBACK_LANGUAGE]
        kernel = self._by_name(name) or self._by_language(languages)
        if kernel is not None:
            return KernelChoice(kernel.name, kernel.display_name, kernel.language, asked)
        return KernelChoice(None, _text(spec.get("display_name")) or asked or FALLBACK_LANGUAGE,
                            languages[0] if languages else "", asked)

    def kernelspec_for(self, metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
        """The kernelspec a copy of this notebook must carry to open on its kernel; None when the
        notebook's already names it exactly, or when its kernel is missing (left as it is)."""
        choice = self.resolve(metadata)
        if choice.missing:
            return None
        spec = _mapping((metadata or {}).get("kernelspec"))
        return None if spec.get("name") == choice.name else choice.kernelspec()

    def _by_name(self, name: str) -> Kernel | None:
        if not name:
            return None
        lowered = name.lower()
        if lowered in self._names:
            return self._names[lowered]
        return next((kernel for prefix, kernel in self._prefixes if lowered.startswith(prefix)), None)

    def _by_language(self, languages: list[str]) -> Kernel | None:
        return next((self._languages[lang.lower()] for lang in languages if lang.lower() in self._languages), None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- reading the table ------------------------------------------------------------------------


def load(path: Path | str) -> Kernels:
    """The kernels table in ``path``, checked; :class:`KernelsError` says what is wrong and where."""
    path = Path(path)
    try:
        with path.open("rb") as table:
            raw = tomllib.load(table)
    except OSError as exc:
        raise KernelsError(f"{path}: cannot read the kernels table ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise KernelsError(f"{path}: not valid TOML ({exc})") from None
    if not raw:
        raise KernelsError(f"{path}: no kernel in the table (one [<kernelspec name>] table per kernel)")
    kernels = [_kernel(path, name, fields) for name, fields in raw.items()]
    _refuse_shared_names(path, kernels)
    return Kernels(kernels, path)


def _kernel(path: Path, name: str, fields: Any) -> Kernel:
    where = f"{path}: table [{name}]"
    if not isinstance(fields, dict):
        raise KernelsError(f"{where}: expected a table ([{name}] followed by its fields), got {fields!r}")
    if not KERNEL_NAME.fullmatch(name):
        raise KernelsError(f"{where}: {name!r} is not a kernelspec name (letters, digits, '.', '_', '-')")
    known = (*REQUIRED, *LISTS)
    for field in fields:
        if field not in known:
            close = difflib.get_close_matches(field, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KernelsError(f"{where}: unknown field {field!r}{hint} (fields: {', '.join(known)})")
    for field in REQUIRED:
        value = fields.get(field)
        if not isinstance(value, str) or not value.strip():
            got = "it is missing" if field not in fields else f"got {value!r}"
            raise KernelsError(f"{where}: field {field!r} must be a non-empty string ({got})")
    lists = {}
    for field in LISTS:
        value = fields.get(field, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise KernelsError(f"{where}: field {field!r} must be a list of non-empty strings (got {value!r})")
        lists[field] = tuple(item.strip() for item in value)
    return Kernel(name, fields["display_name"].strip(), fields["language"].strip(), **lists)


def _refuse_shared_names(path: Path, kernels: list[Kernel]) -> None:
    """A name, prefix or language claimed by two kernels would make the choice depend on the table's order."""
    for field in LISTS:
        claimed: dict[str, str] = {}
        for kernel in kernels:
            values = (kernel.name, *kernel.names) if field == "names" else getattr(kernel, field)
            for value in (v.lower() for v in values):
                if claimed.setdefault(value, kernel.name) != kernel.name:
                    raise KernelsError(f"{path}: table [{kernel.name}]: {field} {value!r} is already claimed by "
                                       f"table [{claimed[value]}]")


@cache
def default() -> Kernels:
    """The repository's table (``environment/kernels.toml``), read once."""
    return load(DEFAULT_FILE)


def resolve(metadata: Mapping[str, Any] | None, kernels: Kernels | None = None) -> KernelChoice:
    """The kernel a notebook with this ``metadata`` opens on, in ``kernels`` (default: the repository's)."""
    return (kernels if kernels is not None else default()).resolve(metadata)


if __name__ == "__main__":
    import sys

    try:
        table = load(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_FILE)
    except KernelsError as error:
        sys.exit(str(error))
    for k in table:
        print(f"{k.name:10} {k.display_name} ({k.language})\n    names: {', '.join(dict.fromkeys((k.name, *k.names)))}"
              f"\n    prefixes: {', '.join(k.prefixes) or '-'}\n    languages: {', '.join(k.languages) or '-'}")
