"""The database resource of a service: engine and per-request session.

``init_app(app, metadata)`` opens the engine from the service's own database
URL, gives each request a session (``db.session()``) closed at teardown, and
adds ``flask init-db``.  Tables are created at start when missing; each service
has its own database and reads no other's tables.
"""
from __future__ import annotations

import click
from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base; each service declares its models on its own subclass."""


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


def init_app(app: Flask, url: str, metadata: MetaData) -> None:
    engine = make_engine(url)
    metadata.create_all(engine)
    app.extensions["capytale.db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)

    @app.cli.command("init-db")
    def init_db_command() -> None:
        """Create the service's tables when missing."""
        metadata.create_all(engine)
        click.echo(f"tables ready in {engine.url.render_as_string(hide_password=True)}")


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["capytale.db"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
