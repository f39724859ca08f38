"""The students' environment in the notebook image is the process backend's, and what an académie adds
to the list reaches both."""
from __future__ import annotations

import json

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from capytale.stack import notebook_image
from capytale.stack import students_env as envs
from tests.environment.test_students_env import VERSIONS, versions


# What ``python -m venv`` seeds from the interpreter it is made with (the host's Python for the process
# backend, Debian's in the image): not from the list, so not compared.
SEEDED = {"pip", "setuptools"}


def image_versions(engine, image: str) -> dict[str, str]:
    output = engine.client.containers.run(image, entrypoint=[f"{envs.IMAGE_PREFIX}/bin/python", "-c", VERSIONS],
                                          network_mode="none", read_only=True, remove=True, working_dir="/")
    return json.loads(output.decode().strip().splitlines()[-1])


def listed(found: dict[str, str]) -> dict[str, str]:
    return {name: version for name, version in found.items() if name not in SEEDED}


def test_the_image_holds_the_same_students_environment_as_the_process_backend(engine, students_env):
    assert listed(image_versions(engine, engine.image)) == listed(versions(students_env / "bin" / "python"))
    listing = ("import json, pathlib; print(json.dumps(sorted((p.parent.name, json.loads(p.read_text())['argv'][0]) "
               f"for p in pathlib.Path('{envs.IMAGE_PREFIX}/share/jupyter/kernels').glob('*/kernel.json'))))")
    kernels = engine.client.containers.run(engine.image, entrypoint=["python", "-c", listing], network_mode="none",
                                           read_only=True, remove=True)
    python = f"{envs.IMAGE_PREFIX}/bin/python"
    assert json.loads(kernels.decode().strip()) == [["ocaml", python], ["python3", python], ["sql", python]]


def test_the_ocaml_toplevel_is_in_the_image(engine):
    output = engine.client.containers.run(engine.image, entrypoint=["ocaml", "-version"], network_mode="none",
                                          read_only=True, remove=True)
    assert b"version 4" in output


def test_a_library_added_to_the_list_reaches_both_backends(engine, tmp_path, request):
    """What docs/environment.md tells an académie: add a line, rebuild; only what changed is remade."""
    from tests.conftest import terminal_progress

    progress = terminal_progress(request, "académie")
    extended = tmp_path / "python.txt"
    extended.write_text(envs.PYTHON_LIST.read_text() + "\n# added by the académie\ntabulate==0.9.0\n")
    check = "import tabulate; print(tabulate.tabulate([[1, 2]], headers=['a', 'b']))"

    # process backend: a new environment, whose python3 kernel imports the library
    prefix = envs.ensure_students_env(progress, extended)
    specs = KernelSpecManager()
    specs.kernel_dirs = [f"{prefix}/share/jupyter/kernels"]
    specs.ensure_native_kernel = False
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        printed = []
        reply = client.execute_interactive(check, timeout=60, output_hook=lambda m: printed.append(
            m["content"].get("text", "")) if m["header"]["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "a    b" in "".join(printed)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    # docker backend: a new students' layer on the same base, whose environment imports it
    image = notebook_image.ensure_image(engine.client, progress, list_file=extended)
    assert image != engine.image
    assert notebook_image.base_tag() in {t for i in engine.client.images.list() for t in i.tags}
    output = engine.client.containers.run(image, entrypoint=[f"{envs.IMAGE_PREFIX}/bin/python", "-c", check],
                                          network_mode="none", read_only=True, remove=True)
    assert b"a    b" in output
    assert image_versions(engine, image)["tabulate"] == "0.9.0"
    engine.client.images.remove(image)
