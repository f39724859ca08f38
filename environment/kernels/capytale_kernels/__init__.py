"""The students' Jupyter kernels besides Python: OCaml (Debian's toplevel) and SQL (SQLite), on metakernel.

Installed into the students' environment, never the platform's; ``python -m capytale_kernels.install``
writes the kernelspecs (python3, ocaml, sql) that the students' Jupyter servers offer.
"""
from __future__ import annotations

__version__ = "0.1.0"
