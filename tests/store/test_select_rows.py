"""``select_rows``: a search's Core SELECTs sent to the SQLite driver give what SQLAlchemy would."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, bindparam, event, func, literal, select

from sqltrack.store.engine import make_engine
from sqltrack.store.sqlite_path import select_rows

_meta = MetaData()
_things = Table("things", _meta, Column("id", Integer, primary_key=True), Column("name", String(20)),
                Column("seen", DateTime))


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(_things.insert(), [{"id": i, "name": f"n{i}", "seen": dt.datetime(2026, 1, i)}
                                        for i in range(1, 8)])
    return engine


def _sent_by_sqlalchemy(engine) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_a_paged_select_with_an_in_list_goes_to_the_driver_with_the_same_rows(tmp_path):
    engine = _engine(tmp_path)
    t = _things.c
    query = (select(t.id, t.name).where(t.id.in_([2, 3, 5, 7]), t.name != literal("n3"),
                                        t.id <= bindparam("top", type_=Integer))
             .order_by(t.id.desc()).limit(bindparam("limit", type_=Integer)))
    sent = _sent_by_sqlalchemy(engine)
    with engine.connect() as conn:
        for bounds in ({"top": 7, "limit": 2}, {"top": 5, "limit": 10}, {"top": 1, "limit": 3}):
            expected = [tuple(row) for row in conn.execute(query, bounds)]
            before = len(sent)
            assert select_rows(conn, query, bounds) == expected
            assert len(sent) == before  # not through SQLAlchemy's execution
        assert select_rows(conn, query, {"top": 7, "limit": 2}) == [(7, "n7"), (5, "n5")]
        assert select_rows(conn, select(func.max(t.id))) == [(7,)]
    engine.dispose()


def test_a_column_that_needs_converting_is_left_to_sqlalchemy(tmp_path):
    engine = _engine(tmp_path)
    sent = _sent_by_sqlalchemy(engine)
    with engine.connect() as conn:
        rows = select_rows(conn, select(_things.c.seen).where(_things.c.id == 3))
    assert rows == [(dt.datetime(2026, 1, 3),)]  # SQLite stores text; SQLAlchemy parses it
    assert [sql.split()[:2] for sql in sent if sql.startswith("SELECT")] == [["SELECT", "things.seen"]]
    engine.dispose()


def test_a_value_that_needs_converting_is_left_to_sqlalchemy(tmp_path):
    engine = _engine(tmp_path)
    query = select(_things.c.id).where(_things.c.seen >= bindparam("since", type_=DateTime))
    with engine.connect() as conn:
        assert select_rows(conn, query, {"since": dt.datetime(2026, 1, 6)}) == [(6,), (7,)]
    engine.dispose()
