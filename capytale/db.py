"""The database resource of a service: engine and per-request session.

``init_app(app, metadata)`` opens the engine from the service's own database
URL, gives each request a session (``db.session()``) closed at teardown, and
adds ``flask init-db``.  Tables are created at start when missing; each service
has its own database, declares its models on its own ``DeclarativeBase`` (so its
metadata holds its tables only) and reads no other's tables.
"""
from __future__ import annotations

import fcntl

import click
from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


SCHEMA_LOCK = 0x63617079  # PostgreSQL advisory lock held while tables are created


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create missing tables, safely when several workers of a service start at once."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            metadata.create_all(connection)
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        metadata.create_all(engine)
        return
    # SQLite: create_all checks, then creates; two workers between the two both create, and one fails
    # ("table already exists"). A lock file beside the database makes them take turns.
    with open(f"{database}.schema-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        metadata.create_all(engine)


class SchemaOutdated(RuntimeError):
    """The database was made by an older version of the service (no migrations yet)."""


def check_columns(engine: Engine, metadata: MetaData) -> None:
    """Stop with a plain message when a table lacks columns this version needs."""
    found = inspect(engine)
    for table in metadata.sorted_tables:
        missing = {column.name for column in table.columns} - {c["name"] for c in found.get_columns(table.name)}
        if missing:
            raise SchemaOutdated(
                f"table {table.name} of {engine.url.render_as_string(hide_password=True)} lacks the columns "
                f"{', '.join(sorted(missing))}: it was made by an older version. Locally, `make clean` starts "
                "afresh; a deployment needs a migration.")


def init_app(app: Flask, url: str, metadata: MetaData) -> None:
    engine = make_engine(url)
    create_tables(engine, metadata)
    check_columns(engine, metadata)
    app.extensions["capytale.db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)

    @app.cli.command("init-db")
    def init_db_command() -> None:
        """Create the service's tables when missing."""
        create_tables(engine, metadata)
        click.echo(f"tables ready in {engine.url.render_as_string(hide_password=True)}")


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["capytale.db"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
