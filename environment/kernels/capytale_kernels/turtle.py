"""The ``turtle`` that students get in a Jupyter kernel: the standard module's turtles, drawn in the page.

A student's kernel has no screen and no Tk, so the standard library's ``turtle`` cannot open its
window.  In a kernel, ``import turtle`` and ``from turtle import *`` give this module instead
(:mod:`capytale_kernels.turtle_hook` arranges it), with the standard names (its ``__all__``), so the
students' code runs unchanged: ``forward(100)``, ``left(90)``, ``Turtle()``, ``Screen()``,
``circle``, ``begin_fill``/``end_fill``, ``write``, ``dot``, ``stamp``, ``speed``, ``tracer``,
``done()``/``mainloop()``/``exitonclick()``…

What is drawn shows in the output of the cell that drew, as an SVG picture of the whole screen
(``image/svg+xml``, nothing to install in the browser), when the cell ends (also when it ends in an
error); a cell still drawing after half a second updates its picture as it goes, up to four times a
second.  The picture frames the whole drawing (the standard 400×300 area, enlarged as far as the
drawing goes, scaled down past 800×600), on the screen's background, with the visible turtles on
top.  Nothing waits: ``speed()`` is remembered but every move is computed at once (about 12,000
segments a second, three times that under ``tracer(0)``), so there is no step-by-step animation.
As with the standard module, the screen and its turtles last from cell to cell until
``clearscreen()``/``reset()``; ``textinput``/``numinput`` ask with ``input()``; mouse, keyboard and
timer events (``onclick``, ``onkey``, ``ontimer``) never come.

Why this design (the policy: a well-kept library before code written by hand).  The drawing is
the standard library's own turtle engine (``turtle.RawTurtle``/``TurtleScreen``: every name, the
same geometry, fills, colours, stamps, undo) on a Tk-free canvas from **svg-turtle** (PyPI
``svg-turtle``, MIT, Don Kirkby, "Production/Stable", Python 3.8–3.14), which records what the
engine draws and stubs ``tkinter`` out when it is missing.  This module adds only the mapping onto
the standard module-level names (one shared ``Screen()``, the default turtle), the SVG text and the
display through ``IPython.display`` (looked for only once something is drawn, and only in a process
that has IPython loaded already; svg-turtle's own ``__init__`` tries ``IPython.display``, which a
kernel has loaded anyway).  It needs ``svg-turtle`` (and its ``svgwrite``) in the students'
environment.  The other packages were
weighed and set aside (versions of PyPI):

- ``basthon-turtle`` 0.4.1 (GPL-3.0-or-later): a complete SVG turtle, but its wheel installs a
  ``.pth`` that imports the whole module (about 0.1 s) at every interpreter start and replaces
  ``turtle`` in every process, scripts with a real screen included; its plain-SVG notebook mode
  redraws in the first cell's output, and its animated mode needs ``anywidget`` in the server;
- ``ColabTurtlePlus`` 2.2.0 / ``ColabTurtle`` 2.1.0: their own API (``initializeTurtle``, no
  ``tracer``/``mainloop``; ColabTurtle has neither ``circle`` nor fills) and, but at speed 0, a
  ``time.sleep`` per move, each move re-sending the whole picture;
- ``jupyturtle`` 2024.4.1: its own small API (``pen_up``, no ``circle``, no fill), needs
  ``jupyter`` and ``pytest``;
- ``ipyturtle3`` 0.1.4 (2022): ipycanvas widget, the canvas and screen to be made by hand, and the
  standard module (so Tk) imported underneath;
- ``jupyter-turtle`` 1.0.4: ipycanvas widget, its own API (``move``/``turn``), requires
  ``ipykernel<7`` (the students have 7.4);
- ``turtle-widget`` 1.0.10: an animated anywidget, methods of its ``Turtle`` only (no
  module-level functions, no ``Screen``), ``anywidget`` needed in the server;
- ``mobilechelonian`` 0.5 (2018): a classic-notebook nbextension (``from notebook import
  nbextensions`` fails under Notebook 7).
"""
from __future__ import annotations

import sys
import time
import uuid

# The standard library's turtle, imported by svg_turtle (which puts a tkinter stub first when Tk is
# missing).  In a kernel this module is itself being imported as ``turtle``: the hook steps aside
# during this import, so that the name means the standard module for svg_turtle; the name is then
# given back (to this module, by the import under way, or to nothing).
_before = sys.modules.get("turtle")
try:
    from svg_turtle import canvas as _svg_canvas
    from svg_turtle import svg_turtle as _svg
except ImportError as missing:
    raise ImportError(f"turtle draws in the page with the package svg-turtle, missing here ({missing})") from missing
finally:
    if sys.modules.get("turtle") is not _before:
        if _before is None:
            del sys.modules["turtle"]
        else:
            sys.modules["turtle"] = _before
del _before

_STD = _svg.RawTurtle.__init__.__globals__  # the standard module's namespace, wherever it is now
_CFG = _STD["_CFG"]
_StdRawTurtle = _STD["RawTurtle"]
TurtleScreen = _STD["TurtleScreen"]
ScrolledCanvas = _STD["ScrolledCanvas"]
Shape = _STD["Shape"]
Vec2D = _STD["Vec2D"]
Terminator = _STD["Terminator"]
TurtleGraphicsError = _STD["TurtleGraphicsError"]
write_docstringdict = _STD["write_docstringdict"]

__all__ = list(_STD["__all__"])

# The picture: at least the standard canvas (400×300), at most this size on the page.
MAX_WIDTH, MAX_HEIGHT = 800, 600
MARGIN = 10
# A virtual screen for setup()'s fractions (the standard window is half of it by three quarters).
SCREEN_WIDTH, SCREEN_HEIGHT = 800, 600
# While a cell keeps drawing: a first picture after LIVE_AFTER s, then one every LIVE_EVERY s at
# most, less often for pictures long to make (a fifth of the time at most) or large (1 MB a second).
LIVE_AFTER, LIVE_EVERY = 0.5, 0.25
TEXT = "<Dessin de la tortue>"
_SPEEDS = {"fastest": 0, "fast": 10, "normal": 6, "slow": 3, "slowest": 1}


def _n(value: float) -> str:
    """A coordinate, short: two decimals at most."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class _Canvas(_svg_canvas.Canvas):
    """svg-turtle's recording canvas, telling the screen's display what changes."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(width, height)
        self.display: _Display | None = None

    def _changed(self, refresh: bool = False) -> None:
        if self.display is not None:
            self.display.changed(refresh)

    def call(self, method_name, *args, **kwargs):
        item = super().call(method_name, *args, **kwargs)
        self._changed()
        return item

    def coords(self, item, *coords):
        if not coords:
            return super().coords(item)
        super().coords(item, *coords)
        self._changed()

    def itemconfigure(self, item, **kwargs):
        super().itemconfigure(item, **kwargs)
        self._changed()

    def config(self, **kwargs):
        super().config(**kwargs)
        self._changed()

    def delete(self, item):
        if item == "all":  # items keep their numbers: a turtle may still hold one
            for details in self.items:
                details.is_deleted = True
        else:
            super().delete(item)
        self._changed()

    def update(self):
        """What the engine calls to refresh the screen: a picture now, if one is due."""
        self._changed(refresh=True)

    def bbox(self, item):
        """Text's extent estimated (``write(..., move=True)`` moves past it), a point for the rest."""
        details = self.items[item]
        x, y = details.coords[:2]
        if details.method_name != "create_text":
            return x, y, x, y
        size = _font(details.attribs.get("font"))[1]
        width = max((len(line) for line in str(details.attribs.get("text", "")).split("\n")), default=0)
        width *= 0.6 * size
        anchor = details.attribs.get("anchor", "sw")
        x0 = x - width if anchor == "se" else x - width / 2 if anchor == "s" else x
        return x0, y - size, x0 + width, y


def _font(font) -> tuple[str, float, str]:
    """(family, size in px, style) of a Tk font tuple (points, Tk's 4/3 px a point)."""
    try:
        family, size, *rest = font
        style = rest[0] if rest else "normal"
        return str(family), abs(float(size)) * 4 / 3, str(style)
    except (TypeError, ValueError):
        return "Arial", 8 * 4 / 3, "normal"


class _Display:
    """Shows the screen in the output of the cell that drew (in an IPython kernel; nothing elsewhere)."""

    def __init__(self, screen: _Screen) -> None:
        self.screen = screen
        self.shell = None  # the kernel's shell, once something was drawn in one
        self.looked = False
        self.dirty = False  # changed since last shown
        self.rendering = False
        self.display_id: str | None = None  # the picture of the running cell
        self.cell_started = time.monotonic()
        self.last_shown = 0.0
        self.pause = LIVE_EVERY  # between two pictures of a cell still drawing

    def changed(self, refresh: bool = False) -> None:
        if self.rendering:
            return
        self.dirty = True
        if not self.looked:
            self._attach()
        if refresh and self.shell is not None:
            now = time.monotonic()
            if now - self.cell_started >= LIVE_AFTER and now - self.last_shown >= self.pause:
                self.show()

    def _attach(self) -> None:
        self.looked = True
        ipython = sys.modules.get("IPython")  # a kernel has imported it; never imported here otherwise
        if ipython is None:
            return
        shell = ipython.get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return
        self.shell = shell
        self.cell_started = time.monotonic()
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    def _pre_run_cell(self, info=None) -> None:
        self.display_id = None
        self.cell_started = time.monotonic()

    def _post_run_cell(self, result=None) -> None:
        if self.dirty:
            self.show()
        self.display_id = None

    def show(self) -> None:
        """The picture now, in the running cell's output (a new one, or the cell's one updated)."""
        from IPython.display import display, update_display

        began = time.monotonic()
        picture = self.screen.svg()
        bundle = {"image/svg+xml": picture, "text/plain": TEXT}
        if self.display_id is None:
            self.display_id = uuid.uuid4().hex
            display(bundle, raw=True, display_id=self.display_id)
        else:
            update_display(bundle, raw=True, display_id=self.display_id)
        self.dirty = False
        self.last_shown = time.monotonic()
        self.pause = max(LIVE_EVERY, 5 * (self.last_shown - began), len(picture) / 1e6)


class _Screen(_svg.SvgTurtle._Screen):
    """The one screen of the module-level turtle functions (``Screen()``), drawn as SVG."""

    def __init__(self) -> None:
        canvas = _Canvas(_CFG["canvwidth"], _CFG["canvheight"])
        super().__init__(canvas)
        self._display = _Display(self)
        canvas.display = self._display

    def clear(self):
        super().clear()
        Turtle._pen = None  # the next module-level call makes a new default turtle, as the standard does

    clear.__doc__ = TurtleScreen.clear.__doc__
    clearscreen = clear

    def setup(self, width=_CFG["width"], height=_CFG["height"], startx=None, starty=None):
        """Set the size of the picture's area (pixels, or fractions of an 800×600 screen)."""
        if isinstance(width, float) and 0 <= width <= 1:
            width = SCREEN_WIDTH * width
        if isinstance(height, float) and 0 <= height <= 1:
            height = SCREEN_HEIGHT * height
        width, height = int(width), int(height)
        self.cv.config(width=width, height=height)
        self.canvwidth, self.canvheight = width, height
        if self.mode() != "world":
            self._setscrollregion(-width // 2, -height // 2, width // 2, height // 2)
        self._display.changed()

    def mainloop(self):
        """Show the drawing (at the end of this cell): there is no window to wait on."""
        self._display.changed()

    done = mainloop

    def exitonclick(self):
        """Show the drawing (at the end of this cell): there is no window to click."""
        self._display.changed()

    def bye(self):
        """Nothing: there is no window to close (``clearscreen()`` starts a new drawing)."""

    def title(self, titlestring):
        """Nothing: the picture has no title bar."""

    def textinput(self, title, prompt):
        """Ask with ``input()``; None for an empty answer."""
        answer = input(f"{prompt} ")
        return answer or None

    def numinput(self, title, prompt, default=None, minval=None, maxval=None):
        """Ask a number with ``input()``, again until it is one within the bounds; None for an empty answer
        (the default when there is one)."""
        while True:
            answer = input(f"{prompt} ").strip()
            if not answer:
                return default
            try:
                value = float(answer.replace(",", "."))
            except ValueError:
                print("Ce n'est pas un nombre.")
                continue
            if minval is not None and value < minval:
                print(f"Il faut au moins {minval}.")
            elif maxval is not None and value > maxval:
                print(f"Il faut au plus {maxval}.")
            else:
                return value

    def svg(self) -> str:
        """The screen as an SVG document: everything drawn, framed, with the visible turtles on top."""
        display = self._display
        display.rendering = True
        try:
            TurtleScreen.update(self)  # lines still being drawn (tracer(0)) reach the canvas
        finally:
            display.rendering = False
        return _scene(self)


def _scene(screen: _Screen) -> str:
    cv: _Canvas = screen.cv
    x1, y1, x2, y2 = cv.options.get("scrollregion") or (-cv["width"] / 2, -cv["height"] / 2,
                                                         cv["width"] / 2, cv["height"] / 2)
    box = [x1, y1, x2, y2]

    def extend(x: float, y: float, pad: float = 0.0) -> None:
        if x - pad < box[0]:
            box[0] = x - pad
        if x + pad > box[2]:
            box[2] = x + pad
        if y - pad < box[1]:
            box[1] = y - pad
        if y + pad > box[3]:
            box[3] = y + pad

    def points(coords, pad: float = 0.0) -> str:
        pairs = []
        for i in range(0, len(coords) - 1, 2):
            x, y = coords[i], coords[i + 1]
            extend(x, y, pad)
            pairs.append(f"{_n(x)},{_n(y)}")
        return " ".join(pairs)

    body: list[str] = []
    for item in sorted(cv.items, key=lambda details: details.z_order):
        if item.is_deleted:
            continue
        attribs, coords = item.attribs, list(item.coords)
        if item.method_name == "create_line":
            stroke, width = _css(screen, attribs.get("fill", "")), float(attribs.get("width", 1) or 1)
            if not stroke or len(coords) < 4:
                continue
            if all(coords[i] == coords[0] and coords[i + 1] == coords[1] for i in range(0, len(coords) - 1, 2)):
                extend(coords[0], coords[1], width / 2)  # a dot: a line of no length, round ends
                body.append(f'<circle cx="{_n(coords[0])}" cy="{_n(coords[1])}" r="{_n(width / 2)}" fill="{stroke}"/>')
                continue
            body.append(f'<polyline points="{points(coords, width / 2)}" fill="none" stroke="{stroke}" '
                        f'stroke-width="{_n(width)}" stroke-linecap="round" stroke-linejoin="round"/>')
        elif item.method_name == "create_polygon":
            fill = _css(screen, attribs.get("fill", ""))
            if not fill or len(coords) < 6:
                continue
            outline = _css(screen, attribs.get("outline", ""))
            width = float(attribs.get("width", 1) or 1)
            stroke = f' stroke="{outline}" stroke-width="{_n(width)}" stroke-linejoin="round"' if outline else ""
            body.append(f'<polygon points="{points(coords, width / 2 if outline else 0)}" fill="{fill}" '
                        f'fill-rule="evenodd"{stroke}/>')
        elif item.method_name == "create_text":
            body.append(_text(screen, item, extend))
    for turtle in screen.turtles():
        body.extend(_cursor(screen, turtle, points))

    x1, y1, x2, y2 = box[0] - MARGIN, box[1] - MARGIN, box[2] + MARGIN, box[3] + MARGIN
    width, height = x2 - x1, y2 - y1
    scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
    background = _css(screen, cv.options.get("bg") or "") or "white"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width * scale)}" height="{_n(height * scale)}" '
            f'viewBox="{_n(x1)} {_n(y1)} {_n(width)} {_n(height)}">'
            f'<rect x="{_n(x1)}" y="{_n(y1)}" width="{_n(width)}" height="{_n(height)}" fill="{background}"/>'
            + "".join(body) + "</svg>")


def _css(screen: _Screen, color) -> str:
    """A colour the engine gave (Tk's name or ``#rrggbb``) as an SVG one; "" for none."""
    if not color:
        return ""
    color = str(color)
    if color.startswith("#"):
        return color
    try:
        return screen._colorstr((color,))
    except Exception:
        return "black"


def _text(screen: _Screen, item, extend) -> str:
    x, y = item.coords[:2]
    family, size, style = _font(item.attribs.get("font"))
    anchor = {"sw": "start", "s": "middle", "se": "end"}.get(item.attribs.get("anchor", "sw"), "start")
    lines = str(item.attribs.get("text", "")).split("\n")
    width = 0.6 * size * max((len(line) for line in lines), default=0)
    left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    extend(left, y)
    extend(left + width, y - 1.2 * size * len(lines))
    styles = style.lower().split()
    extra = (' font-weight="bold"' if "bold" in styles else "") + (' font-style="italic"' if "italic" in styles else "")
    extra += ' text-decoration="underline"' if "underline" in styles else ""
    # Tk puts the bottom of the text (its last line) at y: the baseline is a little above
    spans = "".join(
        f'<tspan x="{_n(x)}" y="{_n(y - 0.25 * size - 1.2 * size * (len(lines) - 1 - i))}">{_escape(line)}</tspan>'
        for i, line in enumerate(lines))
    return (f'<text font-family="{_escape(family)}" font-size="{_n(size)}" text-anchor="{anchor}"{extra} '
            f'fill="{_css(screen, item.attribs.get("fill", "black")) or "black"}">{spans}</text>')


def _cursor(screen: _Screen, turtle, points) -> list[str]:
    """The turtle's shape where it stands, as the standard engine would draw it."""
    try:
        if not turtle.isvisible():
            return []
        shape = screen._shapes[turtle.turtle.shapeIndex]
        if shape._type == "polygon":
            parts = [(shape._data, turtle._fillcolor, turtle._pencolor, False)]
        elif shape._type == "compound":
            parts = [(poly, turtle._cc(fill), turtle._cc(outline), True) for poly, fill, outline in shape._data]
        else:
            return []  # an image shape: no image on this canvas
        if turtle._resizemode == "noresize":
            width = 1
        elif turtle._resizemode == "auto":
            width = turtle._pensize
        else:
            width = turtle._outlinewidth
        drawn = []
        for poly, fill, outline, compound in parts:
            turtle_coords = turtle._polytrafo(turtle._getshapepoly(poly, compound))
            coords = []
            for x, y in turtle_coords:
                coords += [x * screen.xscale, -y * screen.yscale]
            fill, outline = _css(screen, fill) or "none", _css(screen, outline) or "none"
            drawn.append(f'<polygon points="{points(coords)}" fill="{fill}" stroke="{outline}" '
                         f'stroke-width="{_n(width)}" stroke-linejoin="round"/>')
        return drawn
    except Exception:  # a shape this picture does not know: the drawing matters more than the turtle
        return []


class RawTurtle(_svg.SvgTurtle):
    """A turtle on a screen (``Screen()`` when none is given): the standard ``RawTurtle``, drawn as SVG."""

    def __init__(self, canvas=None, shape=_CFG["shape"], undobuffersize=_CFG["undobuffersize"],
                 visible=_CFG["visible"]):
        self._requested_speed = 3
        _StdRawTurtle.__init__(self, Screen() if canvas is None else canvas, shape=shape,
                               undobuffersize=undobuffersize, visible=visible)
        _StdRawTurtle.speed(self, 0)  # svg-turtle's pen() keeps the engine at 0: each move at once

    def speed(self, speed=None):
        """Return or set the turtle's speed (0 to 10, or 'fastest', 'fast', 'normal', 'slow',
        'slowest').  Kept for the program to read; every move is drawn at once."""
        if speed is None:
            return self._requested_speed
        if speed in _SPEEDS:
            speed = _SPEEDS[speed]
        elif 0.5 < speed < 10.5:
            speed = int(round(speed))
        else:
            speed = 0
        self._requested_speed = speed

    def _update(self, *args, **kwargs):
        display = getattr(self.screen, "_display", None)
        if display is not None and self.screen._tracing == 0:
            display.changed()  # nothing reaches the canvas before update(): the cell's end will show it
        return super()._update(*args, **kwargs)

    def write(self, arg, move=False, align="left", font=("Arial", 8, "normal")):
        """Write text at the turtle's position (``move=True`` moves it past the text, estimated)."""
        if not move:
            return super().write(arg, False, align, font)
        return _StdRawTurtle.write(self, arg, True, align, font)


RawPen = RawTurtle


class Turtle(RawTurtle):
    """A turtle on the shared screen, ``Screen()``."""

    _pen = None
    _screen = None

    def __init__(self, shape=_CFG["shape"], undobuffersize=_CFG["undobuffersize"], visible=_CFG["visible"]):
        RawTurtle.__init__(self, Screen(), shape=shape, undobuffersize=undobuffersize, visible=visible)


Pen = Turtle


def Screen():
    """Return the screen (one, shared), made when first asked for."""
    if Turtle._screen is None:
        Turtle._screen = _Screen()
    return Turtle._screen


def svg() -> str:
    """The screen's picture now, as SVG text (not a standard name)."""
    return Screen().svg()


def _getpen():
    if Turtle._pen is None:
        Turtle._pen = Turtle()
    return Turtle._pen


# The module-level functions, as the standard module makes them: one per method of the screen and
# of the default turtle, with the method's parameters and documentation.
def _signature(method) -> tuple[str, str]:
    try:
        return _STD["getmethparlist"](method)
    except Exception:
        return "(*args, **kwargs)", "(*args, **kwargs)"


def _make_functions(names, cls, target: str) -> None:
    for name in names:
        method = getattr(cls, name, None)
        if method is None:
            continue
        params, args = _signature(method)
        source = f"def {name}{params}:\n    return {target}.{name}{args}\n"
        namespace = {"Screen": Screen, "_getpen": _getpen}
        exec(source, namespace)
        function = namespace[name]
        function.__doc__ = method.__doc__
        function.__module__ = __name__
        globals()[name] = function


_make_functions(_STD["_tg_screen_functions"], _Screen, "Screen()")
_make_functions(_STD["_tg_turtle_functions"], Turtle, "_getpen()")
done = mainloop  # noqa: F821 (made just above)

_missing = [name for name in __all__ if name not in globals()]
if _missing:  # a Python whose turtle has names this module does not make: leave them out
    __all__ = [name for name in __all__ if name not in _missing]
del _missing
