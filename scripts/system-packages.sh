#!/usr/bin/env bash
# Install the Debian packages the platform needs when they are missing, and start
# this machine's RabbitMQ and PostgreSQL when they are installed but stopped.
# Without them the platform still runs on its embedded defaults (SQLite); RabbitMQ
# is required, so it is installed when absent. docker.io and mmdebstrap serve the
# docker backend (its tests start their own dockerd when none runs); environment/debian.txt
# lists what students' kernels need on this machine (the process backend).
set -euo pipefail

missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
# the browser tests drive Debian's Chromium (no browser is ever downloaded)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# the docker backend: its engine (started by the tests when none runs) and the local notebook image build
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
# what builds the students' environment's wheels that PyPI has no Linux wheel of (pycairo)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[ -e /usr/include/cairo/cairo.h ] || missing+=(libcairo2-dev)
# the programs students' kernels drive (OCaml's toplevel…): the students' environment's Debian list
while read -r package; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done < <(sed 's/#.*//' "$(dirname "$0")/../environment/debian.txt" | tr -s ' \t' '\n' | grep .)
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "Missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "Installing ${missing[*]}…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    echo "Starting RabbitMQ…"
    rabbitmq-server -detached || true
    for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
fi

if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    echo "Starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
exit 0
