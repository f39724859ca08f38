"""Tables are created once, whatever the number of workers starting together on one SQLite file."""
from __future__ import annotations

import multiprocessing

from sqlalchemy import Column, Integer, MetaData, String, Table, inspect

from capytale.db import create_tables, make_engine

WORKERS, ROUNDS = 6, 8


def metadata() -> MetaData:
    tables = MetaData()
    for name in ("activities", "copies", "versions", "sessions"):
        Table(name, tables, Column("id", Integer, primary_key=True), Column("name", String(50), index=True))
    return tables


def start_worker(url: str, barrier) -> None:
    barrier.wait()  # every worker at the same moment, as gunicorn forks them
    engine = make_engine(url)
    create_tables(engine, metadata())
    engine.dispose()


def test_workers_starting_together_create_the_tables_without_failing(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        url = f"sqlite:///{tmp_path}/service-{round_}.db"
        barrier = context.Barrier(WORKERS)
        workers = [context.Process(target=start_worker, args=(url, barrier)) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * WORKERS, round_
        assert sorted(inspect(make_engine(url)).get_table_names()) == ["activities", "copies", "sessions", "versions"]
