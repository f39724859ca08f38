"""``import turtle`` in a student's Jupyter kernel gives :mod:`capytale_kernels.turtle` (drawing in the page).

Imported at every interpreter start of the students' environment by a ``.pth`` line
(``import capytale_kernels.turtle_hook``), so it stays tiny: it imports nothing, and only puts a
finder at the front of :data:`sys.meta_path`.  The finder answers for the name ``turtle`` alone,
and decides when that import happens (not at start, when a kernel's ``sys.argv`` may not be set):

- inside an IPython kernel (``ipykernel``'s application is running, or the interpreter was started
  as ``ipykernel_launcher``), ``turtle`` is :mod:`capytale_kernels.turtle`: one module object,
  ``sys.modules["turtle"] is sys.modules["capytale_kernels.turtle"]``;
- anywhere else (a script run with a real screen, IDLE, a terminal IPython), the finder steps aside
  and the standard library's ``turtle`` is imported as usual.

While :mod:`capytale_kernels.turtle` itself (or ``svg_turtle``, which it builds on) is being
imported, the finder steps aside too, so that they get the standard library's ``turtle``.
"""
import sys

_NAME = "turtle"
_SHIM = "capytale_kernels.turtle"
# Modules whose own import needs the standard library's turtle.
_STANDARD_FOR = (_SHIM, "svg_turtle.svg_turtle")


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False)


def in_kernel() -> bool:
    """Whether this interpreter is an IPython (Jupyter) kernel."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is not None:
        try:
            if kernelapp.IPKernelApp.initialized():
                return True
        except Exception:  # an ipykernel we do not know: fall back on the command line
            pass
    argv = getattr(sys, "argv", None) or [""]
    first = str(argv[0]).replace("\\", "/")
    return (first.endswith("/ipykernel_launcher.py") or first == "ipykernel_launcher.py"
            or first.endswith("/ipykernel/__main__.py") or "ipykernel_launcher" in argv)


class _Loader:
    """Gives the already importable shim for the name ``turtle`` (one module, two names)."""

    def create_module(self, spec):
        import importlib

        module = importlib.import_module(_SHIM)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module):
        # Executed once already, as capytale_kernels.turtle; the import machinery has just set this
        # alias's spec on it: give it back its own (reload() and inspect see one module).
        module.__spec__ = self.own_spec


class TurtleFinder:
    """The :data:`sys.meta_path` finder: ``turtle`` is the shim in a kernel, the standard one elsewhere."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname != _NAME or any(_initializing(name) for name in _STANDARD_FOR) or not in_kernel():
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(_NAME, _Loader())


def install() -> None:
    """Put the finder first in :data:`sys.meta_path` (once)."""
    if not any(isinstance(finder, TurtleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, TurtleFinder())


install()
