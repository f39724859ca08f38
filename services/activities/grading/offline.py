"""What the local runner takes out of a Python cell, since its kernel has this machine's network.

The same rule as the corpus test (``tests/e2e/test_corpus_runs.py``): a shell escape (``!cmd``,
``%%bash``, ``%sx``, and the aliases IPython runs through the shell, such as ``%cat``) and a line that
names an URL outside a comment become ``pass``.  It keeps an honest notebook's ``!pip install`` from
reaching out; it does not stop code written to get round it (``urllib`` with a built address, a
socket): that is the container's ``--network none``, where production runs grading.
"""
from __future__ import annotations

import re

SHELL_LINE = re.compile(r"^\s*(?:!|%%?(?:sx|system|bash|sh|script|cat|ls|ll|rm|cp|mv|mkdir|rmdir|less|more|man)\b)")
URL = re.compile(r"https?://")
NEUTRALISED = "pass  # retiré : pas de réseau ni de shell pendant la correction"


def neutralised(source: str) -> str:
    """``source`` with its shell escapes and URL fetches replaced by ``pass``."""
    kept, in_string = [], False
    for line in source.splitlines():
        code = line.split("#", 1)[0]
        starts_in_string = in_string
        in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1  # a line of a triple-quoted string is text
        if not starts_in_string and (SHELL_LINE.match(line) or URL.search(code)):
            kept.append(line[: len(line) - len(line.lstrip())] + NEUTRALISED)
        else:
            kept.append(line)
    return "\n".join(kept)
