"""``import sqltrack`` must stay light: no pandas, alembic, click or SQLAlchemy until needed."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "alembic", "click", "sqlalchemy", "numpy", "cloudpickle", "yaml")


def test_import_loads_nothing_heavy():
    code = ("import sys, sqltrack; heavy = [m for m in %r if m in sys.modules]; print(','.join(heavy))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_logging_does_not_load_pandas_or_alembic(tmp_path):
    code = ("import sys, sqltrack as m; m.set_tracking_uri(%r); "
            "r = m.start_run(); m.log_metric('x', 1.0); m.end_run(); "
            "print(','.join(x for x in ('pandas', 'alembic', 'click') if x in sys.modules))" % str(tmp_path / "s.db"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_a_sqlite_store_never_loads_other_dialects(tmp_path):
    """SQLAlchemy's MySQL dialect imports every MySQL driver module (~12 ms of a cold start):
    logging to and searching a SQLite store must not load it, nor PostgreSQL's."""
    code = ("import sys, sqltrack as m; m.set_tracking_uri(%r); "
            "m.start_run(); m.log_param('p', 'a'); m.log_metric('x', 1.0); m.end_run(); "
            "found = len(m.get_client().search_runs(['0'], \"params.p = 'a' and metrics.x > 0\", "
            "order_by=['params.p'])); "
            "print(found, sorted(n for n in sys.modules if n.startswith(('sqlalchemy.dialects.mysql', "
            "'sqlalchemy.dialects.postgresql'))))" % str(tmp_path / "s.db"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "1 []"


def test_public_surface_is_explicit():
    import sqltrack

    for name in sqltrack.__all__:
        assert getattr(sqltrack, name) is not None, name
    assert sqltrack.MlflowClient is sqltrack.Client


def test_a_search_without_filter_or_order_does_not_load_the_parser(tmp_path):
    """``sqltrack runs list`` and plain listings skip pyparsing's import (tens of ms at start-up)."""
    code = ("import sys, sqltrack as m; m.set_tracking_uri(%r); "
            "m.start_run(); m.log_metric('x', 1.0); m.end_run(); c = m.get_client(); "
            "found = len(c.search_runs(['0'])) + len(c.search_runs(['0'], '  ', order_by=[])); "
            "print(found, 'pyparsing' in sys.modules)" % str(tmp_path / "s.db"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "2 False"
