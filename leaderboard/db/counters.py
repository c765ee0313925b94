"""Row counts of the catalogue's tables: the home page's figures and every count over a whole
table (the total of a list its caller says is a whole table: ``core/paginators.py``) read them
instead of scanning the table.

- **PostgreSQL**: maintained by the statement-level triggers of migration 0003, so that no write
  path can skip them (``save()``, ``delete()``, ``bulk_create()``, ``QuerySet.update()``/
  ``delete()``, raw SQL, TRUNCATE, the archive import): one ``RowCount`` row per write statement
  holding the change (+rows inserted, -rows deleted; for results also the change in verified
  rows, an update included). Appending instead of updating one shared row per table keeps a
  long import linear. **The writer folds**: every ``FOLD_EVERY``-th change row (by id) folds the
  recent rows it can lock (``FOR UPDATE SKIP LOCKED``: writers never wait for each other) into
  one per name; every ``FULL_FOLD_EVERY``-th, and ``fold()`` after an import, all of them.
  **Reads only read**: one ``SELECT name, SUM(n) ... GROUP BY name`` over at most about
  ``FOLD_EVERY`` rows more than there are names, so a GET writes nothing.
- **SQLite** (the embedded default, small catalogues): no triggers; one query counts every table,
  stored under the catalogue version (``core/cache.versioned``), so it runs once per write, not
  once per request.
"""

from django.apps import apps as global_apps
from django.db import connection, connections

from leaderboard.core.cache import versioned

TABLE = "leaderboard_rowcount"
RESULT = "leaderboard_result"
VERIFIED = f"{RESULT}:verified"
# The writers' fold, as migration 0003 installs it: a write whose change row's id is a multiple of
# FOLD_EVERY folds the rows of the last FOLD_WINDOW ids (an index range: a long transaction
# leaves every row it folded in the heap until it ends, and a fold that scanned them all made an
# import quadratic), every FULL_FOLD_EVERY-th every row.
FOLD_EVERY = 200
FOLD_WINDOW = 10 * FOLD_EVERY
FULL_FOLD_EVERY = 100 * FOLD_EVERY


def counted_tables() -> list[str]:
    """Every table of this app but the version's and the counts' own (rows and days): the
    tables migration 0003 gives the version's and the counts' triggers."""
    config = global_apps.get_app_config("leaderboard")
    skip = {"catalogueversion", "rowcount", "paperdaycount"}
    return sorted(
        m._meta.db_table
        for m in config.get_models(include_auto_created=True)
        if m._meta.model_name not in skip
    )


SUM = f"SELECT name, SUM(n) FROM {TABLE} GROUP BY name"


def run_fold(function: str, table: str, using: str = "default") -> None:
    """PostgreSQL: every change row of ``table`` folded now by the migration's fold function
    ``function``. Changes no sum. Elsewhere (or before the table exists) nothing to do."""
    conn = connections[using]
    if conn.vendor == "postgresql" and table in conn.introspection.table_names():
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT {function}(0)")


def fold(using: str = "default") -> None:
    """The row counts' change rows into one per name now (the import ends with it; writers
    fold as they go)."""
    run_fold("leaderboard_count_fold", TABLE, using)


def _count_every_table() -> dict[str, int]:
    """SQLite: every counted table's rows and the verified results, one query."""
    parts = [f"SELECT '{t}', count(*) FROM \"{t}\"" for t in counted_tables()]
    parts.append(f"SELECT '{VERIFIED}', count(*) FROM {RESULT} WHERE source = 'verified'")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return {name: int(n) for name, n in cursor.fetchall()}


def totals() -> dict[str, int]:
    """Every table's row count, by table name (``VERIFIED``: verified results): one query (on
    SQLite, one per catalogue version). Empty on another database: callers then count."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(SUM)  # a read: it writes nothing
            return {name: int(n) for name, n in cursor.fetchall()}
    if connection.vendor == "sqlite":
        return versioned("row-counts", _count_every_table)
    return {}


def count(model_or_table) -> int | None:
    """The row count of a model's table (or of a table by name), None if not kept."""
    name = getattr(getattr(model_or_table, "_meta", None), "db_table", model_or_table)
    return totals().get(name)
