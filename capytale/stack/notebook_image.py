"""The notebook image, built on this machine where no registry is reachable.

Production builds ``compose/notebook-image/Dockerfile`` on a public Jupyter base
image.  Here (tests, ``make notebook-image``) the same image is made in three
steps, each tagged with a hash of its inputs, so that a change rebuilds it and
what comes after it, nothing before:

1. **base** ``capytale-notebook-base:<hash>``: a Debian root filesystem made by
   ``mmdebstrap`` (Python, tini, and the students' Debian packages of
   ``environment/debian.txt``), the server's virtual environment in
   ``/opt/jupyter`` with ``compose/notebook-image/requirements.txt`` installed by
   pip, the non-root user ``eleve`` (uid 1000) and the mount points; packed as a
   tarball kept in ``notebook-image/`` of the machine's cache (every checkout of
   the machine shares it, ``capytale.stack.machine_cache``) and brought in with
   ``docker import``.  Minutes the first time on a machine, then only the import
   (or nothing, when the engine keeps it).
2. **students** ``capytale-notebook-students:<hash>``: the base plus the
   students' environment in ``/opt/students``, installed by a container of the
   base (no network) from the same wheels as the process backend's
   (``capytale.stack.students_env``), so both hold the same versions.  A minute;
   an académie's new library costs this step only.
3. **image** ``capytale-notebook:<hash>``: that plus the platform's in-server
   code (:data:`IN_SERVER_PATHS`) in ``/opt/capytale`` and the configuration of
   :data:`IMAGE_CONFIG` (user, environment, entry point), committed from a
   container that never runs.  Seconds.

The Dockerfile copies the same paths and sets the same configuration;
``tests/docker/test_image.py`` keeps the two in step.

``python -m capytale.stack.notebook_image`` builds it in the engine of
``DOCKER_HOST`` (or the local socket) and prints its tag.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import re
import shlex
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable

from capytale.stack import machine_cache, students_env

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / "compose" / "notebook-image"
REQUIREMENTS = IMAGE_DIR / "requirements.txt"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # pip in the chroot reaches PyPI as this host does

BASE_REPOSITORY = "capytale-notebook-base"
STUDENTS_REPOSITORY = "capytale-notebook-students"
REPOSITORY = "capytale-notebook"
SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "tini", *students_env.debian_packages())
STUDENT_UID = 1000
CODE_DIR = "/opt/capytale"

# The platform's code a student's server runs: its configuration, identity provider and entry point.
IN_SERVER_PATHS = (
    "capytale/__init__.py",
    "capytale/files.py",
    "capytale/tokens.py",
    "services/__init__.py",
    "services/spawner/__init__.py",
    "services/spawner/jupyter",
)
# The image's configuration, in Dockerfile words (the Dockerfile says the same; a test compares).
IMAGE_CONFIG = (
    f"USER {STUDENT_UID}:{STUDENT_UID}",
    "WORKDIR /home/eleve",
    f"ENV PYTHONPATH={CODE_DIR}",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "ENV LANG=C.UTF-8",
    'ENTRYPOINT ["tini", "--", "python", "-m", "services.spawner.jupyter.container"]',
)
LOCAL_CONFIG = ("ENV PATH=/opt/jupyter/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)

Progress = Callable[[str], None]


def _hooks() -> list[str]:
    in_chroot = 'chroot "$1" env -i PATH=/usr/bin:/bin HOME=/root'
    return [
        f"upload {HOST_CA_BUNDLE} /tmp/build-ca.crt",
        f"upload {REQUIREMENTS} /tmp/requirements.txt",
        f"{in_chroot} python3 -m venv /opt/jupyter",
        f"{in_chroot} /opt/jupyter/bin/pip install --quiet --no-cache-dir --disable-pip-version-check"
        " --cert /tmp/build-ca.crt -r /tmp/requirements.txt",
        f'echo "eleve:x:{STUDENT_UID}:{STUDENT_UID}:eleve:/home/eleve:/bin/sh" >> "$1/etc/passwd"',
        f'echo "eleve:x:{STUDENT_UID}:" >> "$1/etc/group"',
        f'mkdir -p "$1/home/eleve" "$1/capytale/socket" "$1{CODE_DIR}"',
        f'chown {STUDENT_UID}:{STUDENT_UID} "$1/home/eleve" "$1/capytale/socket"',
        ': > "$1/etc/resolv.conf"; echo capytale > "$1/etc/hostname"',  # the engine writes its own
    ]


def mmdebstrap_argv(target: Path) -> list[str]:
    excluded = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*")
    return [
        "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "--quiet",
        f"--include={','.join(DEBIAN_PACKAGES)}",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in excluded),
        *(f"--customize-hook={hook}" for hook in _hooks()),
        SUITE, str(target), *MIRRORS,
    ]


def base_inputs() -> bytes:
    """What the base is made of: the build's command line, without where this checkout is (every checkout
    of a machine shares the base), and the server's requirements."""
    argv = json.dumps(mmdebstrap_argv(Path("-"))).replace(str(REPO), "<checkout>")
    return argv.encode() + b"\0" + REQUIREMENTS.read_bytes()


def base_tag() -> str:
    digest = hashlib.sha256(base_inputs())
    return f"{BASE_REPOSITORY}:{digest.hexdigest()[:12]}"


def _in_server_files() -> list[Path]:
    files = []
    for name in IN_SERVER_PATHS:
        path = REPO / name
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        files += [p for p in found if "__pycache__" not in p.parts]
    return files


def students_tag(list_file: Path = students_env.PYTHON_LIST) -> str:
    """``capytale-notebook-students:<hash>``: changes with the base and the students' environment."""
    digest = hashlib.sha256(f"{base_tag()}\0{students_env.digest(list_file)}".encode())
    return f"{STUDENTS_REPOSITORY}:{digest.hexdigest()[:12]}"


def image_tag(list_file: Path = students_env.PYTHON_LIST) -> str:
    """``capytale-notebook:<hash>``: changes with the layers below, the in-server code and the image's configuration."""
    digest = hashlib.sha256(students_tag(list_file).encode())
    for path in _in_server_files():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps([IMAGE_CONFIG, LOCAL_CONFIG]).encode())
    return f"{REPOSITORY}:{digest.hexdigest()[:12]}"


def rootfs_tarball(progress: Progress = print) -> Path:
    """The base's root filesystem as a tarball, made by mmdebstrap once a machine."""
    cache = machine_cache.folder("notebook-image")
    tarball = cache / (base_tag().split(":")[1] + ".tar")
    with machine_cache.lock("notebook-rootfs"):
        if tarball.exists():
            return machine_cache.used(tarball)
        partial = tarball.with_suffix(".partial.tar")
        partial.unlink(missing_ok=True)
        progress(f"building the notebook image's root filesystem with mmdebstrap (a few minutes, once) → {tarball}")
        began = time.monotonic()
        try:
            subprocess.run(mmdebstrap_argv(partial), check=True, stdin=subprocess.DEVNULL)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.rename(tarball)
        progress(f"root filesystem ready in {time.monotonic() - began:.0f} s ({tarball.stat().st_size >> 20} MiB)")
    machine_cache.forget_unused(cache, keep=tarball)
    return tarball


def _has_image(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _code_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in _in_server_files():
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(REPO)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o644
            with path.open("rb") as file:
                archive.addfile(info, file)
    return buffer.getvalue()


def ensure_image(client, progress: Progress = print, list_file: Path = students_env.PYTHON_LIST) -> str:
    """The notebook image's tag in ``client``'s engine, built or imported when missing; ``list_file``
    is the students' Python list (an académie's, or one a test adds a library to)."""
    tag = image_tag(list_file)
    base, students = base_tag(), students_tag(list_file)
    with machine_cache.lock("notebook-image"):  # one build at a time: the engine's data root is the machine's
        if not _has_image(client, tag):
            _build_image(client, tag, base, students, list_file, progress)
    _forget_unused_images(client, wanted=(base, students, tag))
    return tag


def _build_image(client, tag: str, base: str, students: str, list_file: Path, progress: Progress) -> None:
    if not _has_image(client, students):
        if not _has_image(client, base):
            tarball = rootfs_tarball(progress)
            progress(f"importing {tarball.name} as {base}")
            began = time.monotonic()
            repository, version = base.split(":")
            client.api.import_image(src=str(tarball), repository=repository, tag=version)
            progress(f"imported in {time.monotonic() - began:.0f} s")
        _build_students_layer(client, base, students, list_file, progress)
    holder = client.containers.create(students, command=["true"], network_disabled=True)
    try:
        holder.put_archive(CODE_DIR, _code_archive())
        repository, version = tag.split(":")
        holder.commit(repository=repository, tag=version, changes=list(IMAGE_CONFIG + LOCAL_CONFIG),
                      message="Capytale notebook image: the students' environment plus the platform's in-server code")
    finally:
        holder.remove(force=True)
    progress(f"notebook image {tag} ready")


def _forget_unused_images(client, wanted: tuple[str, ...]) -> None:
    """Note that ``wanted`` were used now, and remove the project's images (their hash tags) that no
    checkout of this machine wanted for ``machine_cache.UNUSED_DAYS`` days; an image a container still
    uses stays."""
    import docker.errors

    record_file = machine_cache.folder("notebook-image") / "images-used.json"
    with machine_cache.lock("notebook-images-used"):
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            record = {}
        now = time.time()
        record.update(dict.fromkeys(wanted, now))
        limit = now - machine_cache.UNUSED_DAYS * 86400
        ours = (BASE_REPOSITORY, STUDENTS_REPOSITORY, REPOSITORY)
        for image in client.images.list():
            for found in image.tags:
                repository, _, version = found.partition(":")
                if repository not in ours or not re.fullmatch(r"[0-9a-f]{12}", version):
                    continue  # not one of ours, or a name someone gave it (make notebook-image's :latest)
                if record.setdefault(found, now) < limit:  # first seen now: counted from now
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(found)
                        del record[found]
        partial = record_file.with_suffix(".partial")
        partial.write_text(json.dumps(record, indent=1, sort_keys=True))
        partial.rename(record_file)


def _build_students_layer(client, base: str, tag: str, list_file: Path, progress: Progress) -> None:
    """Install the students' environment into a container of ``base`` (no network: from the wheels
    mounted read-only) and commit it as ``tag``."""
    from docker.types import Mount

    wheels, kernels_wheel = students_env.wheelhouse(list_file, progress)
    prefix = students_env.IMAGE_PREFIX
    python = f"{prefix}/bin/python"
    commands = [["python3", "-m", "venv", prefix], *students_env.install_commands(
        python, prefix, "/wheels", f"/wheels/{kernels_wheel.relative_to(wheels)}", "/list/python.txt")]
    script = " && ".join(" ".join(shlex.quote(part) for part in command) for command in commands)
    progress(f"installing the students' environment into {prefix} ({tag})")
    began = time.monotonic()
    builder = client.containers.run(
        base, command=["sh", "-c", script], detach=True, network_mode="none", user="0:0",
        mounts=[Mount("/wheels", str(wheels), type="bind", read_only=True),
                Mount("/list/python.txt", str(list_file.resolve()), type="bind", read_only=True)])
    try:
        status = builder.wait()
        if status.get("StatusCode") != 0:
            logs = builder.logs().decode(errors="replace")[-3000:]
            raise RuntimeError(f"the students' environment did not install in the image:\n{logs}")
        repository, version = tag.split(":")
        builder.commit(repository=repository, tag=version,
                       message=f"Capytale notebook image: the students' environment in {prefix}")
    finally:
        builder.remove(force=True)
    progress(f"students' environment installed in {time.monotonic() - began:.0f} s")


def main(argv: list[str] | None = None) -> None:
    import docker

    from capytale.stack.dockerd import engine

    parser = argparse.ArgumentParser(description="Build the notebook image in a local Docker engine.")
    parser.add_argument("--tag", default=f"{REPOSITORY}:latest", help="also tag the image so (default: %(default)s)")
    args = parser.parse_args(argv)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    with engine() as url:  # DOCKER_HOST, else the project's own dockerd (its images stay in .cache/dockerd)
        progress(f"Docker engine: {url}")
        client = docker.DockerClient(base_url=url, timeout=600)
        tag = ensure_image(client, progress)
        if args.tag:
            repository, _, version = args.tag.partition(":")
            client.images.get(tag).tag(repository, version or "latest")
        client.close()
    print(tag)


if __name__ == "__main__":
    main()
