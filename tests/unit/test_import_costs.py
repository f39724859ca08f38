"""What every process of the platform pays at import: jsonschema's ``iri`` checker stays out (services/__init__.py).

Each case runs in a fresh interpreter, as a gunicorn worker, a zygote or a student's container starts.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
{imports}
import jsonschema, nbformat
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
nbformat.validate(notebook)
try:
    nbformat.validate({{"nbformat": 4, "cells": "pas une liste"}})
    refused = False
except nbformat.ValidationError:
    refused = True
print(json.dumps({{"parsers": sorted(name for name in ("lark", "rfc3987_syntax") if sys.modules.get(name)),
                  "iri": "iri" in jsonschema.Draft7Validator.FORMAT_CHECKER.checkers,
                  "date-time": "date-time" in jsonschema.Draft7Validator.FORMAT_CHECKER.checkers,
                  "refused": refused}}))
"""


def probe(imports: str) -> dict:
    ran = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(ran.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("entry", ["services.activities", "services.spawner.jupyter.server",
                                   "services.spawner.jupyter.container", "services.spawner.zygote"])
def test_a_platform_process_builds_no_iri_parser_and_still_validates_notebooks(entry):
    seen = probe(f"import {entry}")
    assert seen == {"parsers": [], "iri": False, "date-time": True, "refused": True}, seen


def test_without_the_services_package_jsonschema_would_build_them():
    """What the guard saves is there to save: the package is installed (Jupyter's extras pull it in)."""
    seen = probe("")
    assert seen["parsers"] == ["lark", "rfc3987_syntax"] and seen["iri"] is True, seen
