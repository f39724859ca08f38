"""The students' ``turtle`` (environment/kernels/capytale_kernels/turtle.py): drawing, the import hook, a kernel.

The drawing is tested here without a kernel (the module's picture as SVG); the hook in a
subprocess whose ``sys.argv`` is a kernel's; then a real ipykernel, started through a ``.pth`` line
as the students' environment has it, runs a drawing and the turtle cells of the corpus's recursion
exercises.  The module draws on ``svg-turtle`` (a dependency of the students' environment): without
it in this interpreter, these tests are skipped.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KERNELS = REPO / "environment" / "kernels"
CORPUS_NOTEBOOK = "2_Exercices_recursivite_corr.ipynb"
SVG = "{http://www.w3.org/2000/svg}"

svg_turtle = pytest.importorskip(
    "svg_turtle", reason="svg-turtle (a dependency of the students' environment) is not installed here")
svgwrite = pytest.importorskip("svgwrite", reason="svgwrite (svg-turtle's dependency) is not installed here")

if str(KERNELS) not in sys.path:
    sys.path.insert(0, str(KERNELS))

from capytale_kernels import turtle as T  # noqa: E402  (the module itself, not through the hook)


def python_path() -> str:
    """PYTHONPATH for a child interpreter: the kernels' package and wherever svg-turtle is found here."""
    places = [KERNELS, Path(svg_turtle.__file__).parents[1], Path(svgwrite.__file__).parents[1]]
    return ":".join(dict.fromkeys(str(place) for place in places))


@pytest.fixture
def t():
    """A fresh screen and default turtle (the module keeps one screen, as the standard one does)."""
    T.Turtle._screen = None
    T.Turtle._pen = None
    yield T
    T.Turtle._screen = None
    T.Turtle._pen = None


def picture() -> ET.Element:
    return ET.fromstring(T.svg())


def polylines(root: ET.Element) -> list[list[tuple[float, float]]]:
    """The drawn lines, in turtle coordinates (the picture's y goes down)."""
    return [[(float(x), -float(y)) for x, y in (pair.split(",") for pair in line.get("points").split())]
            for line in root.iter(f"{SVG}polyline")]


def close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return math.isclose(a[0], b[0], abs_tol=0.01) and math.isclose(a[1], b[1], abs_tol=0.01)


def test_a_square_is_four_lines(t):
    for _ in range(4):
        t.forward(100)
        t.left(90)
    lines = polylines(picture())
    assert len(lines) == 1
    corners = [(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)]
    assert len(lines[0]) == 5 and all(close(p, q) for p, q in zip(lines[0], corners))


def test_circle_is_a_path_around_its_centre(t):
    t.circle(50)  # centre 50 to the left of the turtle, which starts facing east: (0, 50)
    (path,) = polylines(picture())
    assert len(path) > 20
    assert all(math.isclose(math.dist(point, (0, 50)), 50, rel_tol=0.02) for point in path)
    assert close(path[0], (0, 0)) and close(path[-1], (0, 0))


def test_fill_makes_a_filled_polygon_under_its_outline(t):
    t.fillcolor("red")
    t.begin_fill()
    for _ in range(3):
        t.forward(80)
        t.left(120)
    t.end_fill()
    root = picture()
    fills = [p for p in root.iter(f"{SVG}polygon") if p.get("fill-rule")]  # the turtle on top has none
    assert len(fills) == 1 and fills[0].get("fill") == "#ff0000" and len(fills[0].get("points").split()) >= 3
    children = list(root)
    assert children.index(fills[0]) < children.index(next(root.iter(f"{SVG}polyline")))


def test_penup_moves_without_drawing(t):
    t.penup()
    t.goto(50, 50)
    t.pendown()
    t.forward(10)
    lines = polylines(picture())
    assert lines == [[(50.0, 50.0), (60.0, 50.0)]]
    assert t.position() == (60, 50)


def test_dot_write_stamp_colours_and_background(t):
    t.bgcolor("lightblue")
    t.pensize(3)
    t.color("dark green")
    t.dot(20, "orange")
    t.write("Bonjour <tortue>", font=("Arial", 14, "bold"))
    t.shape("turtle")
    t.stamp()
    t.forward(40)
    root = picture()
    assert next(root.iter(f"{SVG}rect")).get("fill") == "#add8e6"
    dot = next(root.iter(f"{SVG}circle"))
    assert (dot.get("r"), dot.get("fill")) == ("10", "#ffa500")
    text = next(root.iter(f"{SVG}text"))
    assert "".join(text.itertext()) == "Bonjour <tortue>" and text.get("font-weight") == "bold"
    line = next(root.iter(f"{SVG}polyline"))
    assert (line.get("stroke"), line.get("stroke-width")) == ("#006400", "3")
    # the stamp, and the turtle itself on top where it stands
    assert len([p for p in root.iter(f"{SVG}polygon") if p.get("fill") == "#006400"]) == 2


def test_hidden_turtle_is_not_drawn(t):
    t.forward(10)
    assert len(list(picture().iter(f"{SVG}polygon"))) == 1
    t.hideturtle()
    assert list(picture().iter(f"{SVG}polygon")) == []


def test_picture_frames_the_whole_drawing(t):
    t.forward(100)
    small = picture()
    assert (small.get("width"), small.get("height")) == ("420", "320")  # the standard 400×300, a margin
    t.goto(2000, 0)
    t.goto(2000, 1000)
    big = picture()
    x, y, width, height = map(float, big.get("viewBox").split())
    assert x <= -200 and x + width >= 2000 and y <= -1000 and y + height >= 150
    assert float(big.get("width")) <= T.MAX_WIDTH and float(big.get("height")) <= T.MAX_HEIGHT


def test_speed_is_kept_but_nothing_waits(t):
    t.speed("slowest")
    assert t.speed() == 1
    began = time.monotonic()
    for _ in range(200):
        t.forward(50)
        t.left(91)
    assert time.monotonic() - began < 2


def test_large_recursive_drawings_are_fast(t):
    def koch(n: int, length: float) -> None:
        if n == 0:
            t.forward(length)
            return
        for angle in (60, -120, 60, 0):
            koch(n - 1, length / 3)
            t.left(angle)

    t.speed(0)
    began = time.monotonic()
    for _ in range(3):
        koch(5, 300)  # 3 × 1024 segments
        t.right(120)
    svg = t.svg()
    assert time.monotonic() - began < 5
    assert sum(len(line) - 1 for line in polylines(ET.fromstring(svg))) >= 3 * 1024


def test_tracer_zero_still_shows_the_final_picture(t):
    t.tracer(0)
    for _ in range(4):
        t.forward(30)
        t.left(90)
    assert len(polylines(picture())[0]) == 5


def test_clearscreen_starts_over_with_a_new_default_turtle(t):
    t.forward(50)
    first = t.getturtle()
    t.clearscreen()
    assert polylines(picture()) == []
    t.left(90)
    t.forward(20)
    assert t.getturtle() is not first
    assert polylines(picture()) == [[(0.0, 0.0), (0.0, 20.0)]]


def test_turtles_share_the_screen(t):
    a, b = t.Turtle(), t.Turtle()
    a.forward(10)
    b.backward(10)
    assert a.getscreen() is b.getscreen() is t.Screen()
    assert isinstance(t.Screen(), t.TurtleScreen)
    assert len(polylines(picture())) == 2


def test_numinput_and_textinput_ask_with_input(t, monkeypatch):
    answers = iter(["", "abc", "3,5", "Alice"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert t.numinput("Côté", "Longueur ?", default=7) == 7
    assert t.numinput("Côté", "Longueur ?") == 3.5  # "abc" asked again
    assert t.textinput("Nom", "Ton nom ?") == "Alice"


def test_the_standard_names(t):
    standard = T._STD["__all__"]
    assert T.__all__ == list(standard)
    assert all(callable(getattr(T, name)) for name in standard)
    for name in ("forward", "left", "circle", "goto", "penup", "pendown", "color", "pensize", "speed",
                 "begin_fill", "end_fill", "shape", "hideturtle", "bgcolor", "done", "mainloop",
                 "exitonclick", "Screen", "setup", "write", "dot", "stamp", "tracer", "update", "Turtle"):
        assert name in T.__all__
    t.setup(600, 400)
    t.done()
    t.exitonclick()
    t.title("rien")
    assert (float(picture().get("width")), float(picture().get("height"))) == (620, 420)


def run_python(script: str, *, argv0: str | None = None) -> dict:
    """Run ``script`` in the platform's interpreter with the kernels' package on the path; its JSON."""
    prelude = f"import sys\nsys.argv = [{argv0!r}, '-f', 'kernel-1.json']\n" if argv0 else ""
    completed = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], capture_output=True,
                               text=True, timeout=60, env={"PYTHONPATH": python_path(), "PATH": "/usr/bin:/bin",
                                    "PYTHONDONTWRITEBYTECODE": "1"},
                               stdin=subprocess.DEVNULL, cwd=KERNELS)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


def test_hook_gives_the_shim_in_a_kernel():
    seen = run_python("""
        import json
        before = set(sys.modules)
        import capytale_kernels.turtle_hook
        started = sorted(set(sys.modules) - before)
        from turtle import *
        import turtle
        forward(100); left(90); forward(50)
        print(json.dumps({
            "started": started,
            "shim": sys.modules["turtle"] is sys.modules["capytale_kernels.turtle"],
            "names": all(name in globals() for name in turtle.__all__),
            "classes": [isinstance(Turtle, type), callable(Screen), Turtle is turtle.Turtle],
            "svg": "100,-50" in turtle.svg(),
            "shown_in": turtle.Screen()._display.shell,
        }))
    """, argv0="/opt/students/lib/python3/site-packages/ipykernel_launcher.py")
    assert set(seen["started"]) <= {"capytale_kernels", "capytale_kernels.turtle_hook", "__future__"}
    assert seen["shim"] and seen["names"] and seen["classes"] == [True, True, True] and seen["svg"]
    assert seen["shown_in"] is None  # no IPython shell here: drawn, shown nowhere


def test_no_tkinter_needed():
    seen = run_python("""
        import json

        class NoTk:  # the students' environment may have no Tk at all
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tkinter", "_tkinter"):
                    raise ImportError(f"no module named {name!r} here")

        sys.meta_path.insert(0, NoTk())
        import capytale_kernels.turtle_hook
        from turtle import *
        import turtle
        shape("turtle"); circle(30); begin_fill(); forward(20); left(90); forward(20); end_fill(); stamp()
        write("fin", True); undo(); Turtle().clone().forward(5)
        tk_file = getattr(sys.modules["tkinter"], "__file__", None)
        print(json.dumps({"svg": turtle.svg().count("<polygon"), "file": tk_file}))
    """, argv0="ipykernel_launcher.py")
    assert seen["svg"] >= 3 and seen["file"] is None  # svg-turtle's stand-in for tkinter


def test_hook_leaves_the_standard_turtle_elsewhere():
    seen = run_python("""
        import importlib.util, json
        import capytale_kernels.turtle_hook
        print(json.dumps({"origin": importlib.util.find_spec("turtle").origin}))
    """, argv0="/home/eleve/dessin.py")
    assert seen["origin"].endswith("/turtle.py") and "capytale_kernels" not in seen["origin"]


# A real kernel, started as the students' environment starts it: the hook comes from a .pth line.

@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    root = tmp_path_factory.mktemp("turtle-kernel")
    site_dir = root / "site"
    site_dir.mkdir()
    (site_dir / "capytale-turtle.pth").write_text("import capytale_kernels.turtle_hook\n")
    boot = (f"import site, runpy; site.addsitedir({str(site_dir)!r}); "
            "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)")
    spec_dir = root / "kernels" / "turtle-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", boot, "-f", "{connection_file}"],
        "display_name": "Python 3 (turtle test)", "language": "python",
        "env": {"PYTHONPATH": python_path(), "IPYTHONDIR": str(root / "ipython"), "PYTHONDONTWRITEBYTECODE": "1"},
    }))
    manager = KernelManager(kernel_name="turtle-test", connection_file=str(root / "connection.json"),
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root / "kernels")]))
    manager.start_kernel(cwd=str(root))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client, code: str) -> list[dict]:
    """Run ``code``; the iopub messages it caused, up to the kernel's idle."""
    msg_id = client.execute(code)
    messages = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return messages
        messages.append(message)
    raise AssertionError(f"no end to {code!r}")


def errors(messages: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in messages if m["msg_type"] == "error"]


def pictures(messages: list[dict]) -> list[str]:
    return [m["content"]["data"]["image/svg+xml"] for m in messages
            if m["msg_type"] in ("display_data", "update_display_data") and "image/svg+xml" in m["content"]["data"]]


def test_kernel_draws_in_the_cell_output(kernel):
    messages = execute(kernel, "from turtle import *\nforward(100)\nleft(90)\nforward(50)")
    assert errors(messages) == []
    shown = pictures(messages)
    assert shown and shown[0].startswith("<svg")
    assert "0,0 100,0 100,-50" in shown[-1]  # the two sides, in the picture's coordinates
    assert messages[[m["msg_type"] for m in messages].index("display_data")]["content"]["transient"]["display_id"]

    quiet = execute(kernel, "import turtle, sys\nprint(turtle.heading(), sys.modules['turtle'].__name__)")
    assert pictures(quiet) == []  # nothing drawn: nothing shown
    assert [m["content"]["text"] for m in quiet if m["msg_type"] == "stream"] == ["90.0 capytale_kernels.turtle\n"]


def test_corpus_recursive_drawings_run_in_the_kernel(kernel, corpus):
    notebook = json.loads((corpus / CORPUS_NOTEBOOK).read_text(encoding="utf-8"))
    cells = ["".join(cell["source"]) for cell in notebook["cells"]
             if cell["cell_type"] == "code" and "turtle" in "".join(cell["source"])]
    assert len(cells) >= 2
    assert errors(execute(kernel, "import turtle\nturtle.clearscreen()")) == []
    for source in cells:
        messages = execute(kernel, source)
        assert errors(messages) == [], source
        assert pictures(messages), source
