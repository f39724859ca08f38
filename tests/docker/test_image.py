"""The notebook image: the production Dockerfile and the local build say the same, and the image holds it."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from capytale.stack import notebook_image

DOCKERFILE = notebook_image.IMAGE_DIR / "Dockerfile"


def dockerfile_lines() -> list[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_copies_the_same_code_and_requirements_as_the_local_build():
    lines = dockerfile_lines()
    copies = [shlex.split(line)[1:] for line in lines if line.startswith("COPY ")]
    assert ["compose/notebook-image/requirements.txt", "/tmp/requirements.txt"] in copies
    code = [(source, target) for source, target in copies if target.startswith(notebook_image.CODE_DIR)]
    assert [source for source, _target in code] == list(notebook_image.IN_SERVER_PATHS)
    assert all(target == f"{notebook_image.CODE_DIR}/{source}" for source, target in code)
    for source, _target in code:
        assert (notebook_image.REPO / source).exists(), source


def test_the_dockerfile_ends_with_the_local_builds_configuration():
    lines = dockerfile_lines()
    assert lines[-len(notebook_image.IMAGE_CONFIG):] == list(notebook_image.IMAGE_CONFIG)
    assert lines[0].startswith("FROM quay.io/jupyter/")


def test_the_images_tags_do_not_depend_on_where_the_checkout_is():
    """Every checkout of a machine (a clean clone in CI too) finds the base another one built."""
    assert str(notebook_image.REPO).encode() not in notebook_image.base_inputs()
    assert b"<checkout>/compose/notebook-image/requirements.txt" in notebook_image.base_inputs()


def test_the_image_holds_the_french_notebook_rise_and_the_identity_provider(engine):
    check = (
        "import importlib.metadata as m, json, os; "
        "import services.spawner.jupyter.identity, services.spawner.jupyter.container; "
        "print(json.dumps({'uid': os.getuid(), 'versions': {n: m.version(n) for n in "
        "('notebook', 'jupyterlab', 'jupyterlab-language-pack-fr-FR', 'jupyterlab-rise', 'jupyter-server')}}))"
    )
    output = engine.client.containers.run(engine.image, entrypoint=["python", "-c", check], network_mode="none",
                                          read_only=True, remove=True)
    seen = json.loads(output.decode().strip().splitlines()[-1])
    assert seen["uid"] == notebook_image.STUDENT_UID
    wanted = dict(line.split("==") for line in Path(notebook_image.REQUIREMENTS).read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    for name, version in seen["versions"].items():
        assert wanted[name] == version, name
    config = engine.client.images.get(engine.image).attrs["Config"]
    assert config["Entrypoint"] == ["tini", "--", "python", "-m", "services.spawner.jupyter.container"]
    assert config["User"] == f"{notebook_image.STUDENT_UID}:{notebook_image.STUDENT_UID}"
    assert not config.get("Cmd"), "the spec comes from the backend's command line only"
