"""The students' environment's tests run on the environment the process backend runs (the session
fixture ``students_env`` of ``tests/conftest.py``: made from ``environment/`` once per list, cached)."""
