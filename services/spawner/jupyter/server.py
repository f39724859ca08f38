"""What runs inside a student's server: its environment and its configuration.

The whole configuration is given here, programmatically; no configuration
file is read (``JUPYTER_NO_CONFIG``), so a ``.jupyter/`` folder a student
writes into the workspace changes nothing, and Jupyter's data, runtime and
settings folders point to places the platform chooses.  The interface's
defaults are the platform's: French and no news (``overrides.json`` beside this
module) and the autosave interval of the spec, written at start as the
``overrides.json`` of the notebook app's ``app_settings_dir`` in the server's
runtime folder; a student may still choose another language, that choice is
saved under ``<workspace>/.capytale/``.

Kernels talk to their server over Unix sockets (ZeroMQ's ``ipc`` transport), in a
private folder of the server's: over TCP, each kernel's five ports are picked free
on the loopback and bound a moment later by the kernel, and under a class any
connection's ephemeral port can take one in between; the kernel then dies with
"Address already in use", and Jupyter's restarter keeps the same ports five times.
The folder's path is short (a Unix socket's path is at most 107 bytes), under
``/tmp``: the runtime folder's path may be too long.

A server starts one kernel as soon as it runs, for the first notebook the student opens
(:class:`StudentsKernels`): that notebook's first cell is not a kernel's cold start.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Mapping

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager, ServerKernelManager
from traitlets import Bool, Unicode, default
from traitlets.config import Config

from services.spawner.jupyter import forked_kernel, prelaunch, priority, warm
from services.spawner.jupyter.contents import StudentsContents
from services.spawner.jupyter.identity import GrantIdentityProvider
from services.spawner.jupyter.spec import ServerSpec, kernels_dir

# The platform's defaults of Notebook 7 and JupyterLab settings, read-only beside this module
PLATFORM_OVERRIDES = Path(__file__).parent / "overrides.json"
AUTOSAVE_PLUGIN = "@jupyterlab/docmanager-extension:plugin"

# Server extensions installed in the environment that a student's server never loads
# unless JUPYTER_EXTENSIONS names them: each costs start time and memory.
KNOWN_EXTENSIONS = (
    "notebook", "jupyterlab_rise", "jupyter_lsp", "jupyter_server_terminals", "jupyterlab", "notebook_shim",
)

log = logging.getLogger("capytale.spawner.server")


class StudentsKernelSpecs(KernelSpecManager):
    """The kernelspecs of one folder, the students' environment's, and of no other place
    (``KernelSpecManager.kernel_dirs`` is not configurable, so its default is replaced)."""

    folder = Unicode(config=True, help="the students' environment's kernelspecs folder")

    @default("kernel_dirs")
    def _only_the_students_environment(self) -> list[str]:
        return [self.folder]


class StudentsKernels(AsyncMappingKernelManager):
    """Jupyter's kernel manager, with the kernels' connection files, hence their Unix sockets, in
    ``sockets_dir`` (the server gives it its own runtime folder, whose path may be too long), and a
    warm kernel.

    The warm kernel (``warm_kernel``): once the server's loop runs, one kernel of the default
    kernelspec starts in the background. The first start of a kernel of that kernelspec that names
    no kernel id (the first notebook the student opens) takes it instead of launching one, waiting
    for it if it is still starting: it is moved to the folder Jupyter would have started a new one
    in (``cwd_for_path``) and given the session's environment, by a silent execution on its shell
    channel, and both go into its launch arguments, which a restart (asked or automatic) launches
    it with again. One per server, never replaced: an idle student costs one kernel and no more.
    Until it is taken it is a kernel of the server like any other: listed, culled when idle if
    culling is on, shut down with the server. Gone or broken when it is asked for, a new kernel
    starts, as it would have without it, and the log says why.
    """

    sockets_dir = Unicode(config=True, help="folder of the kernels' connection files and sockets")
    warm_kernel = Bool(True, config=True, help="start one kernel with the server, for the first notebook opened")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.connection_dir = self.sockets_dir
        self._warm: asyncio.Future[str] | None = None
        # ServerApp makes its loop (init_ioloop) before its kernel manager (init_configurables):
        # what is added to it now runs as soon as the server runs, before any request is served
        server_loop = getattr(self.parent, "io_loop", None)
        if self.warm_kernel and server_loop is not None:
            server_loop.add_callback(self.start_warm_kernel)

    def start_warm_kernel(self) -> asyncio.Future[str]:
        """Start the warm kernel in the background (on the running loop); the future of its id. A kernel
        this process started before the server existed (:mod:`.prelaunch`) is the warm kernel then."""
        ahead = prelaunch.waiting()
        if ahead is not None and ahead.kernel_name == self.default_kernel_name:
            start = super().start_kernel(kernel_id=ahead.kernel_id, kernel_name=ahead.kernel_name)
        else:
            start = super().start_kernel(kernel_name=self.default_kernel_name)
        self._warm = asyncio.ensure_future(start)
        self._warm.add_done_callback(self._warm_kernel_started)
        return self._warm

    def _warm_kernel_started(self, started: asyncio.Future[str]) -> None:
        if not started.cancelled() and started.exception() is not None:
            self.log.warning("the warm kernel did not start (%s): the first notebook starts its own",
                             started.exception())

    async def start_kernel(self, *, kernel_id: str | None = None, path: str | None = None, **kwargs: Any) -> str:
        """A new kernel, or the warm one for the first kernel of its kernelspec (see the class)."""
        warm = self._warm
        if warm is not None and kernel_id is None and kwargs.get("kernel_name") in (None, self.default_kernel_name):
            self._warm = None  # taken once, even by two starts at the same moment
            try:
                return await self._take_warm_kernel(await warm, path, kwargs.get("env"))
            except Exception as error:  # noqa: BLE001 - whatever went wrong, a new kernel is the answer
                self.log.warning("the warm kernel cannot be used (%s): starting a new one", error)
        return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)

    async def _take_warm_kernel(self, kernel_id: str, path: str | None, env: dict[str, str] | None) -> str:
        """The warm kernel ``kernel_id``, moved where a new kernel for ``path`` would have started."""
        if kernel_id not in self:
            raise RuntimeError(f"kernel {kernel_id} is gone (it died, or was culled)")
        kernel = self.get_kernel(kernel_id)
        launch = kernel._launch_args  # what KernelManager.restart_kernel launches the kernel with again
        code = []
        if path is not None:
            launch["cwd"] = self.cwd_for_path(path, env=env or {})
            code.append(f"__import__('os').chdir({launch['cwd']!r})")
        if env is not None:
            launch["env"] = dict(env)
            # what the kernel would have had otherwise: the server's environment (its own) but for the
            # session's variables, under what its kernelspec sets
            changed = {name: value for name, value in env.items()
                       if os.environ.get(name) != value and name not in kernel.kernel_spec.env}
            if changed:
                code.append(f"__import__('os').environ.update({changed!r})")
            if env.get("JPY_SESSION_NAME"):
                code.append(f"__session__ = {env['JPY_SESSION_NAME']!r}")  # as ipykernel sets it at its start
        if code:
            try:
                await self._execute_silently(kernel, "\n".join(code))
            except Exception:
                if kernel_id in self:  # half moved, or not answering: of no use
                    await self.shutdown_kernel(kernel_id, now=True)
                raise
        self.log.info("Kernel %s: the warm kernel, taken for %r", kernel_id, path)
        return kernel_id

    async def _execute_silently(self, kernel: Any, code: str) -> None:
        """Run ``code`` in ``kernel`` and wait for its reply, on a shell channel of its own, leaving no
        trace: no output, no history, no execution count; a kernel still starting is waited for."""
        shell = kernel.connect_shell()
        request = kernel.session.msg("execute_request", {
            "code": code, "silent": True, "store_history": False, "user_expressions": {}, "allow_stdin": False,
            "stop_on_error": True,
        })
        replied: asyncio.Future[dict] = asyncio.get_running_loop().create_future()

        def on_reply(parts: list[bytes]) -> None:
            reply = kernel.session.deserialize(kernel.session.feed_identities(parts)[1])
            if reply["parent_header"].get("msg_id") == request["header"]["msg_id"] and not replied.done():
                replied.set_result(reply["content"])

        def on_death() -> None:
            if not replied.done():
                replied.set_exception(RuntimeError("the kernel died"))

        shell.on_recv(on_reply)
        for event in ("restart", "dead"):
            kernel.add_restart_callback(on_death, event)
        try:
            kernel.session.send(shell, request)
            content = await asyncio.wait_for(replied, self.kernel_info_timeout)
        finally:
            for event in ("restart", "dead"):
                kernel.remove_restart_callback(on_death, event)
            shell.close()
        if content["status"] != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")

    async def shutdown_all(self, now: bool = False) -> None:
        """Every kernel, the warm one too; one still starting is waited for first (Jupyter's shutdown
        of a kernel not in the map yet fails, and a server stopped then would not stop)."""
        warm, self._warm = self._warm, None
        if warm is not None:
            await asyncio.wait([warm])
        await super().shutdown_all(now=now)


class StudentsKernelManager(ServerKernelManager):
    """Jupyter server's kernel manager (which keeps its kernel's state and activity), adopting the kernel
    :mod:`.prelaunch` started ahead for its connection file instead of launching one (the first start
    only), else asking the node's kernels' zygote to fork the kernel (``kernel_zygote``,
    :mod:`.forked_kernel`), else launching it as Jupyter does: a kernelspec the zygote does not imitate,
    or a zygote that does not answer (the log says why), costs a cold start, never a failure."""

    kernel_zygote = Unicode("", config=True, help="socket of the node's kernels' zygote ('' for none)")
    _adopted: prelaunch.Prelaunched | None = None

    # Jupyter maps a kernel whose start ends one turn of the loop before it marks its activity: a list
    # of the kernels in that turn (a page's poll of api/kernels) read it unset, and failed with a 500.
    # Until Jupyter marks it, the kernel's last activity is now (its state is set at its launch, below).
    @default("last_activity")
    def _started_now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.timezone.utc)

    async def _async_pre_start_kernel(self, **kw: Any):
        self._adopted = prelaunch.adopt(self.connection_file)
        if self._adopted is not None:  # its connection file, written ahead, is the truth
            self.load_connection_file(self.connection_file)
            self._connection_file_written = True
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # A kernel launched, first or again (a restart, asked or after it died), is starting until it says
        # otherwise. The record of the one before can say "busy" (it died in a cell), and Jupyter does not
        # make sure a new websocket has subscribed to the outputs of a kernel it believes busy (its nudge):
        # the first cell run on a page opened then lost its outputs. (Jupyter means to do this after a
        # restart on new ports, but sets it on its kernels' map instead of the kernel.)
        self.execution_state = "starting"
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            self._took(adopted.process, os.getpgid(adopted.process.pid), kw.get("cwd"))
            self.log.info("Kernel %s: the kernel started ahead, adopted (pid %d)", self.kernel_id, adopted.process.pid)
            return
        forked = await self._fork(kernel_cmd, kw)
        if forked is not None:
            self._took(forked, forked.pid, kw.get("cwd"))  # its own session: its group is its pid
            await self._until_bound(forked)
            self.log.info("Kernel %s: forked by the kernels' zygote (pid %d)", self.kernel_id, forked.pid)
            return
        await super()._async_launch_kernel(kernel_cmd, **kw)
        priority.yield_cpu(self.provisioner.pid)

    async def _fork(self, kernel_cmd: list[str], kw: dict[str, Any]) -> forked_kernel.ForkedKernel | None:
        if not self.kernel_zygote:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, forked_kernel.fork, self.kernel_zygote, kernel_cmd, kw.get("env") or os.environ, kw.get("cwd"))
        except forked_kernel.Refused:
            return None  # another kernelspec's kernel
        except Exception as error:  # noqa: BLE001 - a kernel started cold is the answer
            self.log.warning("Kernel %s: the kernels' zygote did not fork it (%s): starting it cold", self.kernel_id, error)
            return None

    async def _until_bound(self, kernel: forked_kernel.ForkedKernel, timeout: float = 2.0) -> None:
        """Wait (a few hundredths of a second) until the forked kernel has bound its sockets: connected
        before, each of the server's channels would wait for ZeroMQ's next reconnection, and a status
        the kernel sends meanwhile, which the server's activity tracker and a notebook's first cell
        wait for, would be lost to them."""
        info = self.get_connection_info()
        if info.get("transport") != "ipc":
            return
        sockets = [Path(f"{info['ip']}-{info[name]}") for name in
                   ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]
        deadline = asyncio.get_running_loop().time() + timeout
        while not all(path.exists() for path in sockets) and kernel.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                self.log.warning("Kernel %s: not bound after %.0f s", self.kernel_id, timeout)
                return
            await asyncio.sleep(0.005)

    def _took(self, process: Any, pgid: int, cwd: str | None) -> None:
        """The provisioner holds ``process``, a kernel started otherwise than by its ``launch_kernel``."""
        provisioner = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, pgid
        provisioner.cwd = cwd
        self._reconcile_connection_info(provisioner.connection_info)


# Extensions a server loads through a module of the platform's, which says what it changes.
SERVED_BY = {"jupyterlab_rise": "services.spawner.jupyter.slides"}


def extension_switches(wanted: tuple[str, ...]) -> dict[str, bool]:
    """Exactly the wanted extensions on, every other known one explicitly off."""
    switches = {name: False for name in KNOWN_EXTENSIONS}
    switches.update({SERVED_BY.get(name, name): True for name in wanted})
    return switches


def environment(spec: ServerSpec, base: Mapping[str, str]) -> dict[str, str]:
    """The server's environment (its kernels inherit it): ``base`` plus Jupyter's folders."""
    root = Path(spec.root_dir)
    runtime = Path(spec.runtime_dir)
    env = dict(base)
    env.update({
        "HOME": str(root),
        "JUPYTER_NO_CONFIG": "1",
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_DATA_DIR": str(runtime / "data"),  # notebook trust database and secret: not in the workspace
        # temporary files (Jupyter's blank config folder under JUPYTER_NO_CONFIG among them) go
        # with the server: the agent removes the runtime folder when the server is gone
        "TMPDIR": str(runtime / "tmp"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".capytale" / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".capytale" / "lab" / "workspaces"),
    })
    return env


def lab_settings_dir(spec: ServerSpec) -> Path:
    """The notebook app's ``app_settings_dir``: it reads nothing there but overrides.json and overrides.d/."""
    return Path(spec.runtime_dir) / "lab-settings"


def write_lab_overrides(spec: ServerSpec) -> Path:
    """The settings' defaults of this server: the platform's, and the spec's autosave interval."""
    overrides = json.loads(PLATFORM_OVERRIDES.read_text())
    overrides.setdefault(AUTOSAVE_PLUGIN, {}).update({"autosave": True, "autosaveInterval": spec.autosave_interval})
    folder = lab_settings_dir(spec)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps(overrides, indent=1))
    return folder


# jupyter_client names a kernel's sockets <connection folder>/kernel-<uuid>-ipc-<n>: 50 bytes after the folder
SOCKET_PATH_MAX = 107
KERNEL_SOCKET_NAME = len("/kernel-") + 36 + len("-ipc-") + 1


def kernel_sockets_dir(spec: ServerSpec) -> Path:
    """The folder of this server's kernels' sockets, new, private, short enough for them.

    Its name is the student's (``/tmp/capytale-kernels-<key>``), so that what a server killed hard
    left is removed by the next start of the same student's server; the server removes it at exit.
    A folder of that name that is not this user's own (someone else made it first) is left alone
    for a random one."""
    folder = Path("/tmp") / f"capytale-kernels-{spec.user_key}"
    try:
        found = folder.lstat()
    except FileNotFoundError:
        found = None
    if found is not None and stat.S_ISDIR(found.st_mode) and found.st_uid == os.geteuid():
        shutil.rmtree(folder)
        found = None
    try:
        if found is not None:
            raise FileExistsError(folder)
        folder.mkdir(mode=0o700)
    except FileExistsError:
        folder = Path(tempfile.mkdtemp(prefix="capytale-kernels-", dir="/tmp"))
    if len(str(folder)) + KERNEL_SOCKET_NAME > SOCKET_PATH_MAX:  # pragma: no cover - /tmp and keys are short
        raise RuntimeError(f"{folder}: too long a path for the kernels' sockets")
    return folder


def server_config(spec: ServerSpec, as_root: bool, kernel_sockets: Path) -> Config:
    """The ServerApp configuration of one student's server."""
    config = Config()
    server = config.ServerApp
    server.sock = spec.socket_path
    server.sock_mode = "0600"
    server.base_url = spec.base_url
    server.root_dir = spec.root_dir
    server.open_browser = False
    server.allow_root = as_root
    server.jpserver_extensions = extension_switches(spec.extensions)
    server.terminals_enabled = False
    server.cookie_secret = os.urandom(32)  # in memory only: a restarted server forgets every cookie
    server.identity_provider_class = GrantIdentityProvider
    server.allow_unauthenticated_access = False  # any handler not marked public needs a user
    # the Host header is the public one (the socket itself is reachable by this node's proxy only)
    server.allow_remote_access = True
    server.quit_button = False  # the platform stops servers, not the student
    server.tornado_settings = {"xsrf_cookie_kwargs": {"path": spec.base_url, "secure": spec.secure_cookies}}
    config.GrantIdentityProvider.secure_cookie = spec.secure_cookies
    config.GrantIdentityProvider.owner_key = spec.user_key
    config.GrantIdentityProvider.instance = spec.instance
    config.GrantIdentityProvider.grant_public_key_file = spec.grant_public_key
    config.GrantIdentityProvider.revocations_file = spec.revocations_file
    # kernels come from the students' environment only: never a kernelspec of the server's own
    # environment, nor one a student installs under the workspace (HOME) or the runtime folder
    server.kernel_spec_manager_class = StudentsKernelSpecs
    server.contents_manager_class = StudentsContents  # a save on a full disk leaves the saved file whole
    config.StudentsKernelSpecs.folder = kernels_dir(spec.students_env)
    config.StudentsKernelSpecs.ensure_native_kernel = False
    server.kernel_manager_class = StudentsKernels
    config.KernelManager.transport = "ipc"  # never a TCP port that something else can take first
    # a kernel that died is started again on the same sockets (names in the server's own folder, which
    # nothing else can take): a channel connected to it before or during the restart reaches the new one,
    # where new names left a page that connected at that moment waiting on the dead kernel's
    config.KernelRestarter.random_ports_until_alive = False
    config.StudentsKernels.sockets_dir = str(kernel_sockets)
    config.StudentsKernels.kernel_manager_class = f"{StudentsKernelManager.__module__}.StudentsKernelManager"
    config.StudentsKernels.warm_kernel = spec.warm_kernel
    config.StudentsKernelManager.kernel_zygote = spec.kernel_zygote
    config.JupyterNotebookApp.app_settings_dir = str(lab_settings_dir(spec))
    config.LabApp.app_settings_dir = str(lab_settings_dir(spec))  # a teacher's JupyterLab: the same defaults
    return config


def run(spec: ServerSpec, kernel_sockets: Path | None = None) -> None:
    """Run the server until it is stopped (SIGTERM); the environment is already :func:`environment`'s.
    ``kernel_sockets``: the kernels' folder made already (a kernel started ahead is there)."""
    from jupyter_server.serverapp import ServerApp

    as_root = os.geteuid() == 0
    if as_root:
        log.warning("server of %s runs as root (allow_root): use the docker backend in production", spec.user_key)
    temporary = Path(os.environ["TMPDIR"])
    temporary.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(temporary)  # the zygote may have cached another one before the fork
    write_lab_overrides(spec)
    kernel_sockets = kernel_sockets or kernel_sockets_dir(spec)
    try:
        app = ServerApp.instance(config=server_config(spec, as_root, kernel_sockets))
        app.initialize(argv=[])
        warm.release_free_memory()
        app.start()
    finally:
        shutil.rmtree(kernel_sockets, ignore_errors=True)
