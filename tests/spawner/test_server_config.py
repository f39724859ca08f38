"""What a student's server is told: configuration, environment, single-use grants."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from services.spawner.jupyter import server
from services.spawner.jupyter.identity import UsedGrants
from services.spawner.jupyter.spec import ServerSpec, parse_extensions

SPEC = ServerSpec(user_key="kalice", root_dir="/data/users/kalice", socket_path="/run/1/kalice.sock",
                  base_url="/n/1/u/kalice/", log_path="/run/1/kalice.log", runtime_dir="/run/1/runtime/kalice",
                  grant_public_key="/keys/grant.pub", instance="start-1", students_env="/opt/students")
KERNELS = Path("/tmp/capytale-kernels-kalice-x")


def test_the_server_configuration():
    config = server.server_config(SPEC, as_root=False, kernel_sockets=KERNELS)
    app = config.ServerApp
    assert (app.sock, app.sock_mode, app.base_url, app.root_dir) == (SPEC.socket_path, "0600", SPEC.base_url,
                                                                     SPEC.root_dir)
    assert app.open_browser is False and app.allow_root is False and app.terminals_enabled is False
    assert app.jpserver_extensions == {"notebook": True, "jupyterlab_rise": False, "jupyter_lsp": False,
                                       "jupyter_server_terminals": False, "jupyterlab": False, "notebook_shim": False}
    assert isinstance(app.cookie_secret, bytes) and len(app.cookie_secret) == 32
    assert server.server_config(SPEC, as_root=False, kernel_sockets=KERNELS).ServerApp.cookie_secret != app.cookie_secret
    assert app.identity_provider_class.__name__ == "GrantIdentityProvider"
    assert config.GrantIdentityProvider.owner_key == "kalice"
    assert config.ServerApp.allow_root is False and server.server_config(SPEC, as_root=True, kernel_sockets=KERNELS).ServerApp.allow_root
    # kernels: the students' environment's, and no other (not the server's own Python, not the workspace's)
    assert app.kernel_spec_manager_class is server.StudentsKernelSpecs
    specs = server.StudentsKernelSpecs(config=config)
    assert specs.kernel_dirs == ["/opt/students/share/jupyter/kernels"] and specs.ensure_native_kernel is False
    # kernels over Unix sockets in a short private folder: no TCP port to lose to another connection
    assert config.KernelManager.transport == "ipc" and app.kernel_manager_class is server.StudentsKernels
    assert server.StudentsKernels(config=config, connection_dir="/long/runtime").connection_dir == str(KERNELS)


def test_the_kernels_sockets_folder_is_private_short_and_new_at_each_start():
    spec = dataclasses.replace(SPEC, user_key="ktestsockets" + "x" * 8)
    folder = server.kernel_sockets_dir(spec)
    try:
        assert folder.stat().st_mode & 0o777 == 0o700
        assert len(f"{folder}/kernel-{'0' * 36}-ipc-9") <= server.SOCKET_PATH_MAX
        (folder / "kernel-left-by-a-killed-server-ipc-1").write_text("")
        assert server.kernel_sockets_dir(spec) == folder and not any(folder.iterdir())
    finally:
        folder.rmdir()


def test_the_defaults_are_french_and_an_autosave_every_few_seconds(tmp_path):
    spec = dataclasses.replace(SPEC, runtime_dir=str(tmp_path / "runtime"), autosave_interval=7)
    written = server.write_lab_overrides(spec)
    settings_dir = Path(server.server_config(spec, as_root=False, kernel_sockets=KERNELS).JupyterNotebookApp.app_settings_dir)
    assert settings_dir == written and not settings_dir.is_relative_to(spec.root_dir)
    overrides = json.loads((settings_dir / "overrides.json").read_text())
    assert overrides["@jupyterlab/translation-extension:plugin"]["locale"] == "fr_FR"
    assert overrides["@jupyterlab/docmanager-extension:plugin"] == {"autosave": True, "autosaveInterval": 7}


def test_the_environment_reads_no_configuration_and_keeps_jupyter_files_out_of_reach():
    env = server.environment(SPEC, {"PATH": "/usr/bin", "LANG": "C.UTF-8"})
    assert env["HOME"] == SPEC.root_dir and env["JUPYTER_NO_CONFIG"] == "1"
    assert env["JUPYTER_RUNTIME_DIR"] == SPEC.runtime_dir
    assert not env["JUPYTER_DATA_DIR"].startswith(SPEC.root_dir)
    assert env["JUPYTERLAB_SETTINGS_DIR"].startswith(SPEC.root_dir + "/.capytale/")
    assert env["JUPYTERLAB_WORKSPACES_DIR"].startswith(SPEC.root_dir + "/.capytale/")
    assert env["PATH"] == "/usr/bin"


@pytest.mark.parametrize(("raw", "expected"), [
    ("notebook", ("notebook",)),
    (" notebook , jupyterlab ", ("notebook", "jupyterlab")),
    ("", ()),
])
def test_parse_extensions(raw, expected):
    assert parse_extensions(raw) == expected


def test_a_spec_travels_as_json():
    assert ServerSpec.from_json(SPEC.to_json()) == SPEC


def test_a_grant_is_used_once_and_remembered_until_it_expires():
    used = UsedGrants()
    assert used.claim("jti-1", exp=100, now=50)
    assert not used.claim("jti-1", exp=100, now=60)
    assert used.claim("jti-2", exp=100, now=60)
    assert used.claim("jti-1", exp=200, now=101), "forgotten once expired (the grant itself is refused by then)"
