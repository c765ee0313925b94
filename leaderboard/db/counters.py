"""Maintained row counts of the catalogue's tables: the home page's figures and every count over a
whole table (a paginator's total of an unfiltered list) read them instead of scanning the table.

Kept by database triggers, so that no write path can skip them (``save()``, ``delete()``,
``bulk_create()``, ``QuerySet.update()``/``delete()``, raw SQL, the archive import), and
re-established after every ``migrate`` (and test flush), like the catalogue version's triggers:

- **PostgreSQL**: statement-level triggers with transition tables add one ``RowCount`` row per
  write statement holding the change (+rows inserted, -rows deleted; for results also the change
  in verified rows, an update included). Appending instead of updating one shared row per table
  keeps a long import linear: updating the same row once per statement in one transaction makes
  every update walk the row's earlier versions (quadratic). A TRUNCATE resets the table's count.
  **The writer folds**: every ``FOLD_EVERY``-th change row (by its id) folds the recent rows it
  can lock into one per name: an index range of ids, so a long import stays linear; ``FOR
  UPDATE SKIP LOCKED``, so rows another transaction is folding are left to it and writers never
  wait for each other; the rows deleted are exactly the ones re-inserted as sums. Every
  ``FULL_FOLD_EVERY``-th row, ``fold()`` (after an import) and ``migrate`` fold every row.
  **Reads only read**: one ``SELECT name, SUM(n) ... GROUP BY name`` over at most about
  ``FOLD_EVERY`` rows more than there are names, so a GET writes nothing (a read-only replica
  can serve it).
- **SQLite**: row triggers update the table's one row (SQLite has no statement triggers and no
  row versions to walk).

Installing recounts every table in one statement per table (a snapshot shared by the delete of
the old rows and the count), so counts are right after ``migrate`` whatever happened before.
"""

from django.apps import apps as global_apps
from django.db import connection, connections, transaction

TABLE = "leaderboard_rowcount"
RESULT = "leaderboard_result"
VERIFIED = f"{RESULT}:verified"
# A writer folds the change rows when it appends the FOLD_EVERY-th (by id): the rows a read sums
# stay under about FOLD_EVERY plus one per name. That fold takes the rows of the last
# FOLD_WINDOW ids only, by an index range: a long transaction (an import: hundreds of thousands
# of statements) leaves every row it folded in the table's heap until it ends, and a fold that
# scanned them all made the import quadratic (100,000 single-row statements in one transaction:
# 1.8 s, 200,000: 7.0 s). Every FULL_FOLD_EVERY-th row, ``fold()`` (end of an import) and
# ``migrate`` fold every row, so none left outside a window (a concurrent writer's) stays long.
FOLD_EVERY = 200
FOLD_WINDOW = 10 * FOLD_EVERY
FULL_FOLD_EVERY = 100 * FOLD_EVERY


def fold_function(function: str, table: str, key: str, having: str = "") -> str:
    """PostgreSQL: ``function(since)`` folds the change rows of ``table`` after id ``since``
    that this transaction can lock into one row per ``key`` (SKIP LOCKED: rows a concurrent fold
    holds are left to it; every key's sum stays what it was). An index range however many dead
    rows the heap holds (no sequential scan). ``having``: a condition on the folded rows kept."""
    return f"""
CREATE OR REPLACE FUNCTION {function}(since bigint) RETURNS void AS $$
BEGIN
    WITH gone AS (
        DELETE FROM {table} WHERE id > since AND id IN (
            SELECT id FROM {table} WHERE id > since FOR UPDATE SKIP LOCKED
        )
        RETURNING {key}, n
    )
    INSERT INTO {table} ({key}, n) SELECT {key}, SUM(n) FROM gone GROUP BY {key} {having};
END;
$$ LANGUAGE plpgsql SET enable_seqscan = off
"""


PG_FUNCTIONS = [
    "DROP FUNCTION IF EXISTS leaderboard_count_fold()",  # the one-argument version replaces it
    fold_function("leaderboard_count_fold", TABLE, "name"),
    # One change row; the FOLD_EVERY-th (by id) folds the window, the FULL_FOLD_EVERY-th all.
    f"""
CREATE OR REPLACE FUNCTION leaderboard_count_add(table_name text, d bigint) RETURNS void AS $$
DECLARE rid bigint;
BEGIN
    INSERT INTO {TABLE} (name, n) VALUES (table_name, d) RETURNING id INTO rid;
    IF rid % {FULL_FOLD_EVERY} = 0 THEN
        PERFORM leaderboard_count_fold(0);
    ELSIF rid % {FOLD_EVERY} = 0 THEN
        PERFORM leaderboard_count_fold(rid - {FOLD_WINDOW});
    END IF;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION leaderboard_count_insert() RETURNS trigger AS $$
DECLARE d bigint;
BEGIN
    SELECT count(*) INTO d FROM new_rows;
    IF d <> 0 THEN
        PERFORM leaderboard_count_add(TG_TABLE_NAME, d);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION leaderboard_count_delete() RETURNS trigger AS $$
DECLARE d bigint;
BEGIN
    SELECT count(*) INTO d FROM old_rows;
    IF d <> 0 THEN
        PERFORM leaderboard_count_add(TG_TABLE_NAME, -d);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    # Results: the rows and, apart, the verified rows (an update may change a row's source).
    """
CREATE OR REPLACE FUNCTION leaderboard_count_results() RETURNS trigger AS $$
DECLARE d bigint := 0; v bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*), count(*) FILTER (WHERE source = 'verified') INTO d, v FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*), -count(*) FILTER (WHERE source = 'verified') INTO d, v FROM old_rows;
    ELSE
        SELECT (SELECT count(*) FROM new_rows WHERE source = 'verified')
             - (SELECT count(*) FROM old_rows WHERE source = 'verified') INTO v;
    END IF;
    IF d <> 0 THEN
        PERFORM leaderboard_count_add(TG_TABLE_NAME, d);
    END IF;
    IF v <> 0 THEN
        PERFORM leaderboard_count_add(TG_TABLE_NAME || ':verified', v);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    f"""
CREATE OR REPLACE FUNCTION leaderboard_count_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM {TABLE} WHERE name = TG_TABLE_NAME OR name = TG_TABLE_NAME || ':verified';
    INSERT INTO {TABLE} (name, n) VALUES (TG_TABLE_NAME, 0);
    IF TG_TABLE_NAME = '{RESULT}' THEN
        INSERT INTO {TABLE} (name, n) VALUES ('{VERIFIED}', 0);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
]
PG_TRIGGER_NAMES = ("insert", "delete", "update", "truncate")


def _pg_triggers(table: str) -> list[str]:
    insert_fn = "leaderboard_count_results" if table == RESULT else "leaderboard_count_insert"
    delete_fn = "leaderboard_count_results" if table == RESULT else "leaderboard_count_delete"
    statements = [
        f'CREATE TRIGGER leaderboard_count_insert AFTER INSERT ON "{table}" '
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {insert_fn}()",
        f'CREATE TRIGGER leaderboard_count_delete AFTER DELETE ON "{table}" '
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {delete_fn}()",
        f'CREATE TRIGGER leaderboard_count_truncate AFTER TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_count_truncate()",
    ]
    if table == RESULT:
        statements.append(
            f'CREATE TRIGGER leaderboard_count_update AFTER UPDATE ON "{table}" '
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_count_results()"
        )
    return statements


def _sqlite_triggers(table: str) -> list[str]:
    def trigger(event: str, body: str, when: str = "") -> str:
        return (
            f'CREATE TRIGGER "leaderboard_count_{table}_{event.lower()}" AFTER {event} '
            f'ON "{table}" {when}BEGIN {body} END'
        )

    one = f"UPDATE {TABLE} SET n = n {{}} 1 WHERE name = '{table}';"
    statements = [trigger("INSERT", one.format("+")), trigger("DELETE", one.format("-"))]
    if table == RESULT:
        is_verified = "(CASE WHEN {}.source = 'verified' THEN 1 ELSE 0 END)"
        change = f"UPDATE {TABLE} SET n = n + {{}} WHERE name = '{VERIFIED}';"
        statements = [
            trigger("INSERT", one.format("+") + change.format(is_verified.format("new"))),
            trigger("DELETE", one.format("-") + change.format("-" + is_verified.format("old"))),
            trigger(
                "UPDATE",
                change.format(f"{is_verified.format('new')} - {is_verified.format('old')}"),
                "WHEN old.source IS NOT new.source ",
            ),
        ]
    return statements


def counted_tables() -> list[str]:
    """Every table of this app but the version's and the counts' own (rows and days)."""
    config = global_apps.get_app_config("leaderboard")
    skip = {
        global_apps.get_model("leaderboard", "CatalogueVersion")._meta.db_table,
        global_apps.get_model("leaderboard", "RowCount")._meta.db_table,
        global_apps.get_model("leaderboard", "PaperDayCount")._meta.db_table,
    }
    return sorted(
        m._meta.db_table
        for m in config.get_models(include_auto_created=True)
        if m._meta.db_table not in skip
    )


def _recount(cursor, vendor: str, name: str, table: str, where: str = "") -> None:
    count = f'SELECT %s, count(*) FROM "{table}" {where}'
    if vendor == "postgresql":  # one statement, one snapshot for the delete and the count
        cursor.execute(
            f"WITH gone AS (DELETE FROM {TABLE} WHERE name = %s RETURNING 1) "
            f"INSERT INTO {TABLE} (name, n) {count}",
            [name, name],
        )
    else:
        cursor.execute(f"DELETE FROM {TABLE} WHERE name = %s", [name])
        cursor.execute(f"INSERT INTO {TABLE} (name, n) {count}", [name])


def install_counters(using: str = "default", **kwargs) -> None:
    """Idempotent: (re)create the triggers and recount every table on database ``using``."""
    conn = connections[using]
    existing = set(conn.introspection.table_names())
    if TABLE not in existing or conn.vendor not in ("postgresql", "sqlite"):
        return
    tables = [t for t in counted_tables() if t in existing]
    with transaction.atomic(using=using), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            for statement in PG_FUNCTIONS:
                cursor.execute(statement)
        for table in tables:
            if conn.vendor == "postgresql":
                for event in PG_TRIGGER_NAMES:
                    cursor.execute(f'DROP TRIGGER IF EXISTS leaderboard_count_{event} ON "{table}"')
                statements = _pg_triggers(table)
            else:
                for event in ("insert", "delete", "update"):
                    cursor.execute(f'DROP TRIGGER IF EXISTS "leaderboard_count_{table}_{event}"')
                statements = _sqlite_triggers(table)
            for statement in statements:
                cursor.execute(statement)
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE name NOT IN ({', '.join(['%s'] * len(tables))})"
            f" AND name <> %s",
            [*tables, VERIFIED],
        )
        for table in tables:
            _recount(cursor, conn.vendor, table, table)
        if RESULT in tables:
            _recount(cursor, conn.vendor, VERIFIED, RESULT, "WHERE source = 'verified'")


SUM = f"SELECT name, SUM(n) FROM {TABLE} GROUP BY name"


def run_fold(function: str, table: str, using: str = "default") -> None:
    """PostgreSQL: every change row of ``table`` folded now by its ``fold_function`` named
    ``function``. Changes no sum. Elsewhere (or before the table exists) nothing to do."""
    conn = connections[using]
    if conn.vendor == "postgresql" and table in conn.introspection.table_names():
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT {function}(0)")


def fold(using: str = "default") -> None:
    """The row counts' change rows into one per name now (the import ends with it; writers
    fold as they go)."""
    run_fold("leaderboard_count_fold", TABLE, using)


def totals() -> dict[str, int]:
    """Every maintained count, by table name (``VERIFIED``: verified results): one query. Empty
    where no counts are kept (another database): callers then count."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return {}
    with connection.cursor() as cursor:
        cursor.execute(SUM)  # a read: it writes nothing
        return {name: int(n) for name, n in cursor.fetchall()}


def count(model_or_table) -> int | None:
    """The maintained row count of a model's table (or of a table by name), None if not kept."""
    name = getattr(getattr(model_or_table, "_meta", None), "db_table", model_or_table)
    return totals().get(name)


def _joins_keep_rows(query) -> bool:
    """Whether the query's joins neither drop nor repeat rows of its model: every join follows a
    foreign key forwards (``select_related``: one row or none, kept by a LEFT join where the key
    may be null), or the rows are grouped by the model's key (an aggregate annotation)."""
    if query.group_by is True:
        return True
    if query.group_by is not None:
        return False
    for alias, join in query.alias_map.items():
        if alias == query.base_table:
            continue
        field = getattr(join, "join_field", None)
        if field is None or not getattr(field, "concrete", False):
            return False  # a reverse or many-to-many relation: rows may repeat
        if not (field.many_to_one or field.one_to_one):
            return False
        if field.null and join.join_type != "LEFT OUTER JOIN":
            return False
    return True


def whole_table_count(queryset) -> int | None:
    """The maintained count of ``queryset``'s table if ``queryset`` holds every row of it exactly
    once (no filter, no distinct, no slice, no union, no ``values()``, joins that keep the rows);
    None otherwise (the caller counts)."""
    query = getattr(queryset, "query", None)
    if query is None or getattr(queryset, "_fields", None) is not None:
        return None
    if (
        query.where
        or query.distinct
        or query.combinator
        or query.low_mark
        or query.high_mark is not None
        or query.extra
        or query.extra_tables
        or not _joins_keep_rows(query)
    ):
        return None
    return count(queryset.model)
