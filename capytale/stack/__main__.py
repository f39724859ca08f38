"""``python -m capytale.stack run``: the whole platform on this machine, Ctrl-C stops it all."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from capytale.stack import haproxy, haproxy_errors
from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import StartFailed
from capytale.tokens import ensure_development_keys
from services.activities.grading import seeds

WELCOME = """
  Capytale tourne sur {url}

  1. Ouvre {url}/activities/ et connecte-toi comme « Enseignant·e » (connexion de développement).
  2. Dépose un carnet .ipynb : tu obtiens un lien de partage /s/<code>.
  3. Ouvre ce lien dans une autre fenêtre privée, comme « Élève » : ta copie s'ouvre dans Jupyter.

  Ctrl-C arrête tout.
"""

PROCESS_WARNING = """
  ATTENTION — backend « process » : le code des élèves tourne avec les droits de l'utilisateur qui a
  lancé la plateforme. Un noyau d'élève peut lire les clés de signature et les copies des autres
  élèves. C'est fait pour essayer sur un ordinateur, jamais pour une classe : en production, les
  serveurs des élèves tournent dans des conteneurs (make run-docker ici, compose/ en production).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capytale.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the platform in the foreground")
    run.add_argument("--port", type=int, default=8080, help="public HTTP port (HAProxy)")
    run.add_argument("--nodes", type=int, default=4, help="number of notebook nodes")
    run.add_argument("--var-dir", type=Path, default=Path("var"), help="local state folder")
    run.add_argument("--docker", action="store_true",
                     help="students' servers in containers (docker backend), on the engine that answers or one started here")
    config = sub.add_parser("haproxy-config", help="print HAProxy's configuration for compose/")
    config.add_argument("--nodes", type=int, default=4)
    errors = sub.add_parser("haproxy-errors", help="write HAProxy's French error pages into a folder (compose/haproxy-errors)")
    errors.add_argument("folder", type=Path)
    keys = sub.add_parser("keys", help="generate a set of keys, the user-key and the seed secrets into a folder")
    keys.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "keys":
        ensure_development_keys(args.folder)
        seeds.ensure_secret(args.folder / "seed.secret")  # activities': each student's random values
        print(f"keys written to {args.folder}")
        return 0
    if args.command == "haproxy-errors":
        print(f"HAProxy's error pages written to {haproxy_errors.write(args.folder)}")
        return 0
    if args.command == "haproxy-config":
        print(haproxy.render(haproxy.compose_layout(args.nodes)))
        return 0

    with contextlib.ExitStack() as stack:
        # a school tries its own settings (CAPYTALE_CAS_SERVER_URL=… make run); --docker's win over them
        env = {name: value for name, value in os.environ.items() if name.startswith("CAPYTALE_")}
        env.update(docker_settings(stack) if args.docker else {})
        return run_platform(PlatformConfig(var_dir=args.var_dir, http_port=args.port, nodes=args.nodes,
                                           base_port=args.port + 20, access_log=True, env=env))


def docker_settings(stack: contextlib.ExitStack) -> dict[str, str]:
    """The docker backend's settings, on an engine kept for as long as ``stack`` (the image built if missing)."""
    import docker

    from capytale.stack.dockerd import engine
    from capytale.stack.notebook_image import ensure_image

    url = stack.enter_context(engine())
    client = docker.DockerClient(base_url=url, timeout=600)
    stack.callback(client.close)
    image = ensure_image(client, progress=lambda line: print(line, flush=True))
    return {"CAPYTALE_SPAWNER_BACKEND": "docker", "CAPYTALE_DOCKER_URL": url, "CAPYTALE_DOCKER_IMAGE": image}


def run_platform(config: PlatformConfig) -> int:
    """Run the platform in the foreground until SIGINT or SIGTERM."""
    platform = LocalPlatform(config)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: it may arrive ignored from the parent
        signal.signal(signum, lambda *_: stopping.set())
    try:
        platform.start()
        print(WELCOME.format(url=platform.url), flush=True)
        if config.env.get("CAPYTALE_SPAWNER_BACKEND", "process") == "process":
            print(PROCESS_WARNING, file=sys.stderr, flush=True)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    except StartFailed as exc:
        print(f"\nCapytale could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping Capytale…", flush=True)
        platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
