"""The suite. Importing :mod:`services` first gives the tests' own imports of nbformat and Jupyter the
same import-time choices as the platform's processes (see its docstring)."""
import services  # noqa: F401
