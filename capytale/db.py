"""The database resource of a service: its schema's migrations, engine and per-request session.

``init_app(app, url, schema)`` upgrades the service's database to its latest
revision, opens the engine, gives each request a session (``db.session()``) closed
at teardown, answers a database that does not answer with the 503 of a part that is
away, and adds ``flask init-db`` (the same upgrade).  Each service declares
its models on its own ``DeclarativeBase`` (so its metadata holds its tables only),
keeps its Alembic revisions in its own ``migrations/versions/`` and records the
revision reached in its own version table, ``alembic_version_<service>``: services
may share a database, none reads another's tables.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from alembic import command, context, op
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import Flask, current_app, g, request
from sqlalchemy import Column, MetaData, Table, create_engine, event, inspect, literal, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from capytale import web

log = logging.getLogger(__name__)

SCHEMA_LOCK = 0x63617079  # PostgreSQL advisory lock held while a database is upgraded


@dataclass(frozen=True)
class Schema:
    """A service's tables (its models' metadata) and the revisions that make them, in ``folder``.

    ``folder`` holds Alembic's ``env.py`` (which calls :func:`run_revisions`) and
    ``versions/``, one file per revision.
    """

    service: str
    metadata: MetaData
    folder: Path

    @property
    def version_table(self) -> str:
        """Where Alembic records the revision reached, named after the service so that services can share a database."""
        return f"alembic_version_{self.service}"

    def owns(self, name: str | None, type_: str, _parents: Mapping[str, str | None]) -> bool:
        """Alembic's ``include_name``: only this service's tables are compared, not another's beside them."""
        return type_ != "table" or name in self.metadata.tables

    def differences(self, connection: Connection) -> list[Any]:
        """What the database's tables differ by from the models, as ``alembic check`` finds it (empty: in step)."""
        migration = MigrationContext.configure(connection, opts={"version_table": self.version_table,
                                                                 "include_name": self.owns})
        return compare_metadata(migration, self.metadata)


def upgrade(url: str, schema: Schema, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``, one process at a time.

    The workers of a service start together, and each would find the version table
    missing and run the first revision ("table already exists" for all but one). On
    PostgreSQL the whole upgrade is one transaction holding an advisory lock; on SQLite
    the processes take turns on a lock file beside the database, and each upgrade is one
    transaction too. A database made by ``create_all`` before migrations (the
    service's tables, no version table) is completed by the first revision (see
    :func:`create_or_complete`).
    """
    engine = _migration_engine(url)
    try:
        with _sqlite_turn(engine), engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            found = inspect(connection)
            if not found.has_table(schema.version_table):
                made = [name for name in schema.metadata.tables if found.has_table(name)]
                if made:
                    log.warning("%s: tables %s made before migrations (no %s); the first revision completes them",
                                schema.service, ", ".join(made), schema.version_table)
            config = Config()
            config.set_main_option("script_location", str(schema.folder))
            config.attributes.update(connection=connection, schema=schema)
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _migration_engine(url: str) -> Engine:
    """An engine of the upgrade's own, disposed after it.

    On SQLite its connections run DDL inside real transactions (the driver's own
    ``BEGIN`` leaves DDL out) and have foreign keys off, so that a revision which
    rebuilds a table (Alembic's batch mode) does not cascade-delete the rows that
    point to it.
    """
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError(f"{url}: an in-memory SQLite database is one per connection; name a file")
    event.listen(engine, "connect", _sqlite_migration_pragmas)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


@contextlib.contextmanager
def _sqlite_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, hold the lock file beside the database (``<file>.schema-lock``); elsewhere nothing."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with open(f"{engine.url.database}.schema-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_revisions() -> None:
    """The body of every service's ``migrations/env.py``: run the revisions on the connection :func:`upgrade` holds.

    Only that way: Alembic's command line and its offline (SQL script) mode are not offered.
    """
    connection = context.config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise RuntimeError("migrations run through capytale.db.upgrade (flask init-db, or a service's start)")
    schema: Schema = context.config.attributes["schema"]
    context.configure(connection=connection, target_metadata=schema.metadata, version_table=schema.version_table,
                      include_name=schema.owns, transactional_ddl=True)  # SQLite's too, begun by upgrade()
    with context.begin_transaction():
        context.run_migrations()


def create_or_complete(tables: Iterable[Table], fill: Mapping[str, Mapping[str, Any]]) -> None:
    """What a service's first revision does: create its tables, or complete those ``create_all`` made.

    A table already there was made by ``create_all`` before migrations existed, maybe by
    an older version of the models: the columns and indexes it lacks are added, and
    rows already there get ``fill[table][column]`` in a column that cannot be null (the
    value the models give a new row; it stays the column's default in the database).
    Later revisions are plain Alembic operations: by then every database has a version.
    """
    connection = op.get_bind()
    found = inspect(connection)
    for table in tables:
        if not found.has_table(table.name):
            table.create(connection)
            continue
        present = {column["name"] for column in found.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            value = fill.get(table.name, {}).get(column.name)
            if value is None and not column.nullable:
                raise RuntimeError(f"{table.name}.{column.name}: no value given for the rows already there")
            default = None if value is None else literal(value, column.type)
            op.add_column(table.name, Column(column.name, column.type, nullable=column.nullable,
                                             server_default=default))
        indexes = {index["name"] for index in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_connection, _record, foreign_keys: bool = True) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cursor.close()


def _sqlite_migration_pragmas(dbapi_connection, record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event above says BEGIN itself
    _sqlite_pragmas(dbapi_connection, record, foreign_keys=False)


def init_app(app: Flask, url: str, schema: Schema) -> None:
    upgrade(url, schema)
    engine = make_engine(url)
    app.extensions["capytale.db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)
    for unreachable in (OperationalError, InterfaceError):
        app.register_error_handler(unreachable, _database_unavailable)

    @app.cli.command("init-db")
    def init_db_command() -> None:
        """Upgrade the service's database to its latest revision (a service does it too when it starts)."""
        upgrade(url, schema)
        click.echo(f"{schema.service}: {engine.url.render_as_string(hide_password=True)} at its latest revision")


def _database_unavailable(error: OperationalError | InterfaceError):
    """The database does not answer (stopped, restarting, a connection cut, SQLite busy past its timeout):
    the 503 "try again in a moment" of a part that is away, as HAProxy says it, not the 500 of a bug.
    Nothing was committed; the request's session is rolled back when it closes. Pooled connections
    that a restart left dead are tested before use (``pool_pre_ping``), so the first request after
    the database is back is served."""
    log.error("database unavailable on %s %s: %s", request.method, request.path, error.orig or error, exc_info=error)
    return web.error_response(web.STATUS_MESSAGES[503], 503, "database_unavailable")


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["capytale.db"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
