"""The share link as a QR code, to project in class (segno: pure Python, SVG out)."""
from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(url: str, title: str) -> Markup:
    """An inline SVG of ``url`` as a QR code (medium error correction), scaling with its box."""
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(scale=1, border=2, dark="#000", light="#fff", omitsize=True, title=title,
                          svgclass="qr", lineclass=None)
    return Markup(svg)
