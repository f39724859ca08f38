"""The fault tests' platform: the whole platform on a RabbitMQ and a PostgreSQL of its own.

One platform for the session (HAProxy, auth, activities, router, two nodes), whose three
databases live on :class:`~tests.faults.private.PrivatePostgres` and whose messages go
through :class:`~tests.faults.private.PrivateRabbitMQ`: a test may stop and start those, or
kill a node or a service by the pids the platform reports, and leaves the platform whole
again for the next (:func:`whole`).  Two nodes, not four: placement and node health do not
depend on the count, and the machine's two cores are shared.

Spawners leave their servers running when they end (``STOP_SERVERS_ON_EXIT`` off, the
production default, so that a killed agent's servers are there to adopt); the platform's
``stop()`` ends them by the pids of their state files.  Logs of every process, the broker's
and the database's included, are printed when a test fails.
"""
from __future__ import annotations

import secrets

import pytest

from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import Supervisor, free_port
from tests.faults.classroom import Classroom, Operator, every_part_answers, person
from tests.faults.private import PrivatePostgres, PrivateRabbitMQ, missing_parts, wait_until

NODES = 2


@pytest.fixture(scope="session")
def parts_supervisor(tmp_path_factory):
    """Starts and stops the private broker and database; their logs beside the platform's."""
    return Supervisor(tmp_path_factory.mktemp("faults") / "logs")


@pytest.fixture(scope="session")
def broker(tmp_path_factory, parts_supervisor):
    if missing := missing_parts():
        pytest.skip(f"cannot run a private RabbitMQ and PostgreSQL here: {', '.join(missing)} missing")
    rabbitmq = PrivateRabbitMQ(tmp_path_factory.mktemp("rabbitmq"), parts_supervisor)
    rabbitmq.launch()  # it boots while the database is made
    yield rabbitmq
    rabbitmq.close()


@pytest.fixture(scope="session")
def database(parts_supervisor):
    if missing := missing_parts():
        pytest.skip(f"cannot run a private RabbitMQ and PostgreSQL here: {', '.join(missing)} missing")
    postgres = PrivatePostgres(parts_supervisor).start()
    yield postgres
    postgres.close()


@pytest.fixture(scope="session")
def platform(broker, database, parts_supervisor):
    broker.wait_ready()
    var_dir = parts_supervisor.log_dir.parent / "platform"
    env = {
        "CAPYTALE_AMQP_URL": broker.url,
        "CAPYTALE_AMQP_NAMESPACE": f"capytale-faults-{secrets.token_hex(4)}",
        "CAPYTALE_HEARTBEAT_INTERVAL": "1",
        "CAPYTALE_NODE_SILENCE": "4",
        "CAPYTALE_STOP_SERVERS_ON_EXIT": "false",
        "CAPYTALE_LOG_LEVEL": "INFO",
        **{f"CAPYTALE_{service.upper()}_DATABASE_URL": database.create_database(f"capytale_{service}")
           for service in ("auth", "activities", "router")},
    }
    config = PlatformConfig(var_dir=var_dir, http_port=free_port(), nodes=NODES, workers=2, threads=8, env=env,
                            log_dir=parts_supervisor.log_dir, access_log=True)
    local = LocalPlatform(config)
    local.start(timeout=180)
    local.wait_nodes_routed()
    yield local
    local.stop()


@pytest.fixture
def whole(platform, broker, database):
    """The platform as a class finds it: every part up (a test before may have failed with one down)."""
    for name, process in platform.processes.items():
        if process.popen.poll() is not None:
            platform.start_again(name)
    if not broker.answers():
        broker.start()
    if not database.answers():
        database.start()
    wait_until(lambda: every_part_answers(platform), 60, "every service and node answering through HAProxy")
    return platform


@pytest.fixture
def teacher(whole):
    return person(whole, "prof.faults", "teacher")


@pytest.fixture
def activity(teacher, corpus):
    """An activity of ``teacher`` from a real notebook of the corpus."""
    path = corpus / "Calcul d'une paire de dés un peu particuliers.ipynb"
    answer = teacher.upload(path, "Des dés un peu particuliers")
    assert answer.status_code == 201, answer.text
    return {**answer.json(), "source": path}


@pytest.fixture
def operator(whole, broker):
    """The platform's operators, on its RabbitMQ: heartbeats heard, servers stopped."""
    watching = Operator(broker.url, whole.config.env["CAPYTALE_AMQP_NAMESPACE"])
    yield watching
    watching.close()


@pytest.fixture
def classroom(whole, teacher, activity, operator):
    """The students of ``activity``; their kernels and servers are stopped at the end."""
    room = Classroom(whole, teacher, activity, operator)
    yield room
    room.leave()
