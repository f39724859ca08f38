"""Each service's revisions make exactly the tables its models declare, complete a database made by
``create_all`` before migrations, and let a service's workers upgrade one new database at once,
on SQLite and on PostgreSQL."""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from capytale.db import Schema, make_engine, upgrade
from services.activities import models as activities
from services.auth import create_app as auth_app
from services.auth import models as auth
from services.router import models as router

SCHEMAS = {schema.service: schema for schema in (auth.SCHEMA, activities.SCHEMA, router.SCHEMA)}
HEADS = {"auth": "0002", "activities": "0005", "router": "0001"}  # each service's latest revision
WORKERS, ROUNDS = 4, 3
MOMENT = datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request, tmp_path):
    """Make the URL of a new, empty database (on PostgreSQL: a throwaway database, dropped at the end)."""
    if request.param == "sqlite":
        numbers = itertools.count()
        return lambda: f"sqlite:///{tmp_path}/service-{next(numbers)}.sqlite"
    make = request.getfixturevalue("postgres_database")
    return lambda: make("migrations")


@contextlib.contextmanager
def connected(url: str):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def revision_of(connection: sa.Connection, schema: Schema) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": schema.version_table}).get_current_revision()


def assert_in_step(url: str, schema: Schema) -> None:
    """The database has the models' tables and columns, nothing more, at the latest revision."""
    with connected(url) as connection:
        assert sorted(sa.inspect(connection).get_table_names()) == sorted([*schema.metadata.tables,
                                                                           schema.version_table])
        assert schema.differences(connection) == []
        assert connection.scalar(sa.text(f"SELECT count(*) FROM {schema.version_table}")) == 1
        assert revision_of(connection, schema) == HEADS[schema.service]


@pytest.mark.parametrize("service", SCHEMAS)
def test_upgrading_an_empty_database_makes_the_tables_the_models_declare(new_database, service):
    url = new_database()
    upgrade(url, SCHEMAS[service])
    assert_in_step(url, SCHEMAS[service])


def test_a_model_changed_without_a_revision_is_found(tmp_path):
    url = f"sqlite:///{tmp_path}/activities.sqlite"
    upgrade(url, activities.SCHEMA)
    changed = sa.MetaData()
    for table in activities.Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["activities"].append_column(sa.Column("colour", sa.String(20)))
    with connected(url) as connection:
        differences = dataclasses.replace(activities.SCHEMA, metadata=changed).differences(connection)
    assert [(kind, table, column.name) for kind, _schema, table, column in differences] == \
        [("add_column", "activities", "colour")]


def activities_before_migrations() -> sa.MetaData:
    """activities' tables as create_all made them before instructions, opening, protection, clones,
    deletion and class names (services/activities/models.py at the first activities commit)."""
    before = sa.MetaData()
    sa.Table("activities", before,
             sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("code", sa.String(16), nullable=False, unique=True),
             sa.Column("title", sa.String(200), nullable=False),
             sa.Column("owner_uid", sa.String(255), nullable=False, index=True),
             sa.Column("owner_name", sa.String(255), nullable=False),
             sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
             sa.Column("current_version", sa.Integer, nullable=False),
             sqlite_autoincrement=True)
    sa.Table("activity_versions", before,
             sa.Column("activity_id", sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
             sa.Column("number", sa.Integer, primary_key=True),
             sa.Column("notebook", sa.String(255), nullable=False),
             sa.Column("files", sa.JSON, nullable=False),
             sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    sa.Table("activity_copies", before,
             sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("activity_id", sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False, index=True),
             sa.Column("uid", sa.String(255), nullable=False),
             sa.Column("name", sa.String(255), nullable=False),
             sa.Column("user_key", sa.String(64), nullable=False),
             sa.Column("folder", sa.String(255), nullable=False),
             sa.Column("notebook", sa.String(255), nullable=False),
             sa.Column("version", sa.Integer, nullable=False),
             sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
             sa.UniqueConstraint("activity_id", "uid", name="one_copy_per_student"))
    return before


def test_a_database_made_before_the_columns_existed_gets_them_and_keeps_its_rows(new_database):
    url = new_database()
    before = activities_before_migrations()
    engine = make_engine(url)
    with engine.begin() as connection:
        before.create_all(connection)
        connection.execute(before.tables["activities"].insert(), [
            {"code": "ABCD2345", "title": "Dés", "owner_uid": "mme.durand", "owner_name": "Mme Durand",
             "created_at": MOMENT, "current_version": 2}])
        connection.execute(before.tables["activity_versions"].insert(), [
            {"activity_id": 1, "number": number, "notebook": "dés.ipynb", "files": ["dés.ipynb"], "created_at": MOMENT}
            for number in (1, 2)])
        connection.execute(before.tables["activity_copies"].insert(), [
            {"activity_id": 1, "uid": "léa.moreau", "name": "Léa Moreau", "user_key": "k1", "folder": "Dés (ABCD2345)",
             "notebook": "dés.ipynb", "version": 1, "created_at": MOMENT}])
    engine.dispose()

    upgrade(url, activities.SCHEMA)

    assert_in_step(url, activities.SCHEMA)
    with Session(engine) as session:
        activity = session.get(activities.Activity, 1)
        assert (activity.code, activity.title, activity.current_version) == ("ABCD2345", "Dés", 2)
        assert (activity.instructions, activity.is_open, activity.protect_cells) == ("", True, False)
        assert activity.cloned_from is None and activity.deleted_at is None
        assert [v.number for v in session.scalars(sa.select(activities.MasterVersion))] == [1, 2]
        copy = session.scalars(sa.select(activities.Copy)).one()
        assert (copy.uid, copy.folder, copy.class_name) == ("léa.moreau", "Dés (ABCD2345)", "")
        session.add(activities.Activity(code="EFGH6789", title="Suites", owner_uid="m.martin", owner_name="M. Martin"))
        session.commit()  # and the service writes to it as to a new one
        assert session.get(activities.Activity, 2).is_open is True
    engine.dispose()


@pytest.mark.parametrize("service", SCHEMAS)
def test_a_database_that_create_all_made_of_todays_models_is_taken_as_it_is(new_database, service):
    """Tables complete, no version table: the first revision only records itself (a stamp)."""
    url, schema = new_database(), SCHEMAS[service]
    engine = make_engine(url)
    schema.metadata.create_all(engine)
    first = schema.metadata.sorted_tables[0]
    row = {column.name: f"{column.name}-1" if isinstance(column.type, sa.String) else 1 for column in first.columns}
    row.update({c.name: MOMENT for c in first.columns if isinstance(c.type, sa.DateTime)})
    with engine.begin() as connection:
        connection.execute(first.insert(), [row])
    engine.dispose()

    upgrade(url, schema)

    assert_in_step(url, schema)
    with connected(url) as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(first)) == 1


def start_worker(url: str, barrier) -> None:
    barrier.wait(30)  # every worker at the same moment, as gunicorn forks them
    upgrade(url, activities.SCHEMA)


def test_workers_upgrading_one_new_database_together_all_succeed(new_database):
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        url = new_database()
        barrier = context.Barrier(WORKERS)
        workers = [context.Process(target=start_worker, args=(url, barrier)) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0] * WORKERS, round_
        assert_in_step(url, activities.SCHEMA)


def test_flask_init_db_upgrades_the_database(var_dir):
    app = auth_app({"VAR_DIR": var_dir})
    url = app.config["CAPYTALE"]["AUTH_DATABASE_URL"]
    with connected(url) as connection:
        connection.execute(sa.text(f"DELETE FROM {auth.SCHEMA.version_table}"))  # as if it never was upgraded
        connection.commit()
    answer = app.test_cli_runner().invoke(args=["init-db"])
    assert answer.exit_code == 0, answer.output
    assert "auth: sqlite:///" in answer.output and "at its latest revision" in answer.output
    assert_in_step(url, auth.SCHEMA)


def test_sessions_a_single_logout_ended_before_revocations_were_stored_stay_ended(new_database):
    url = new_database()
    upgrade(url, auth.SCHEMA, "0001")
    tickets = auth.ServiceTicket.__table__
    with connected(url) as connection:
        connection.execute(tickets.insert(), [
            {"ticket": "ST-1", "sid": "ended", "uid": "léa", "expires": 2_000_000_000, "revoked": True,
             "created_at": MOMENT},
            {"ticket": "ST-2", "sid": "gone", "uid": "léa", "expires": 1_000_000_000, "revoked": True,
             "created_at": MOMENT},
            {"ticket": "ST-3", "sid": "open", "uid": "jules", "expires": 2_000_000_000, "revoked": False,
             "created_at": MOMENT}])
        connection.commit()

    upgrade(url, auth.SCHEMA)

    assert_in_step(url, auth.SCHEMA)
    with connected(url) as connection:
        rows = connection.execute(sa.select(auth.RevokedSession.sid, auth.RevokedSession.expires,
                                            auth.RevokedSession.reason)).all()
    assert sorted(tuple(row) for row in rows) == [("ended", 2_000_000_000, "single_logout"),
                                                  ("gone", 1_000_000_000, "single_logout")]
