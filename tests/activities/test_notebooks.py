"""Checking uploaded notebooks, and reading students' notebooks for display, on their own."""
from __future__ import annotations

import json

import pytest

from capytale.errors import PlatformError
from services.activities.notebooks import check_notebook
from services.activities.rendering import render_cells, strip_ansi
from tests.activities.support import addresses

LIMIT = 1 << 20


def notebook(cells: list) -> bytes:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 2}).encode()


def test_every_notebook_of_the_corpus_is_accepted(corpus):
    for path in sorted(corpus.glob("*.ipynb")):
        content = path.read_bytes()
        checked = check_notebook(path.name, content, 4 * LIMIT)
        if json.loads(content)["nbformat"] == 4:
            assert checked.content == content and checked.upgraded_from is None, path.name
        else:
            assert json.loads(checked.content)["nbformat"] == 4 and checked.upgraded_from == 3


def test_a_byte_order_mark_is_removed():
    content = notebook([])
    assert check_notebook("a.ipynb", b"\xef\xbb\xbf" + content, LIMIT).content == content


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xfe{}", "n'est pas du texte UTF-8"),
    (b"[1, 2]", "pas un notebook Jupyter"),
    (b'{"nbformat": 9, "nbformat_minor": 0, "cells": []}', "format que la plateforme ne sait pas lire"),
    (b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}}', "ne respecte pas le format"),
    (notebook([{"cell_type": "bogus", "metadata": {}, "source": ""}]),
     "cellule 1 : type de cellule « bogus » inconnu"),
    (notebook([{"cell_type": "markdown", "metadata": {}, "source": "", "couleur": "rouge"}]),
     "cellule 1 : champ inattendu « couleur »"),
    (notebook([{"cell_type": "code", "metadata": {}, "source": "", "execution_count": "un", "outputs": []}]),
     "cellule 1 : champ « execution_count » : la valeur n'a pas le bon type"),
    (notebook([{"cell_type": "code", "metadata": {}, "source": "", "execution_count": None,
                "outputs": [{"output_type": "stream", "name": "stdout"}]}]),
     "cellule 1 : champ « outputs.0 » : il manque le champ « text »"),
])
def test_what_is_wrong_is_said_in_short(content, message):
    with pytest.raises(PlatformError) as refused:
        check_notebook("cours.ipynb", content, LIMIT)
    assert refused.value.status == 400
    assert message in refused.value.user_message


def test_ansi_colour_codes_are_stripped():
    assert strip_ansi("\x1b[0;31mErreur\x1b[0m \x1b[1;32mici\x1b[0m") == "Erreur ici"


def test_cells_come_in_order_with_their_outputs(corpus):
    cells = render_cells((corpus / "phrase_de_passe-v2-Corrige.ipynb").read_text())
    source = json.loads((corpus / "phrase_de_passe-v2-Corrige.ipynb").read_bytes())["cells"]
    assert [cell.kind for cell in cells] == [cell["cell_type"] for cell in source]
    errors = [output.text for cell in cells for output in cell.outputs if output.text and "Error" in output.text]
    assert errors and not any("\x1b" in text for text in errors)


def test_an_unreadable_notebook_is_a_clear_error():
    with pytest.raises(PlatformError) as refused:
        render_cells('{"nbformat": 4, "nbformat_minor": 2, "cells": "pas une liste"}')
    assert "abîmé" in refused.value.user_message


SVG = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
DATA_PAGE = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="  # <script>alert(1)</script>
HOSTILE_LINKS = (
    f'[x]({DATA_PAGE}) ![i](data:image/png;base64,iVBORw0KGgo=) [j](javascript:alert(1)) [v](vbscript:msgbox(1))\n\n'
    f'<a href="{DATA_PAGE}">a</a> <img src="{SVG}" alt="svg"> <a href="JavaScript:alert(1)">j</a> '
    '<a href="&#100;ata:text/html,x">e</a> <a href=" data:text/html,x">s</a> <a href="vbscript:msgbox(1)">v</a> '
    '<a href="file:///etc/passwd">f</a> <a href="/auth/logout">l</a> <img src="/auth/logout"> '
    '<img src="https://tracker.example/p.png"> <blockquote cite="data:text/html,x">q</blockquote>\n\n'
    '<a href="https://fr.wikipedia.org/wiki/Python">cours</a> <a href="mailto:prof@example.org">prof</a> '
    '[cours](https://fr.wikipedia.org/wiki/Python)'
)


def test_only_http_https_and_mailto_addresses_survive_in_markdown_and_html_outputs():
    """No data:, javascript:, vbscript:, file: nor relative address in any href or src; the platform's PNG stays."""
    outputs = [{"output_type": "display_data", "metadata": {}, "data": {"text/html": HOSTILE_LINKS}},
               {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}]
    cells = render_cells(notebook([
        {"cell_type": "markdown", "metadata": {}, "source": HOSTILE_LINKS},
        {"cell_type": "code", "metadata": {}, "source": "", "execution_count": 1, "outputs": outputs},
    ]).decode())
    for html in (cells[0].html, cells[1].outputs[0].html):
        assert {value for _tag, _name, value in addresses(html)} <= {"https://fr.wikipedia.org/wiki/Python",
                                                                     "mailto:prof@example.org"}
        assert 'href="https://fr.wikipedia.org/wiki/Python"' in html and 'href="mailto:prof@example.org"' in html
    assert "[x](data:text/html;base64," in cells[0].html  # a refused markdown link stays as its text
    assert cells[0].html.count('href="https://fr.wikipedia.org/wiki/Python"') == 2  # HTML and markdown links alike
    assert cells[1].outputs[1].image == "data:image/png;base64,iVBORw0KGgo="
