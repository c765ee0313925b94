"""The database's triggers, all in this one migration (docs/architecture.md, ``db/``).

PostgreSQL (statement-level triggers, so that no write path can skip them: ``save()``,
``bulk_create()``, ``QuerySet.update()``/``delete()``, raw SQL, TRUNCATE, the archive import):

- the catalogue version (``CatalogueVersion``): every table of the app but the version's and the
  counts' own bumps it, once per transaction; the read caches key on it
  (``leaderboard/core/cache.py``);
- the row counts (``RowCount``, read by ``leaderboard/db/counters.py``): one change row per write
  statement (transition tables), folded by the writers now and then;
- the papers' day counts (``PaperDayCount``, read by ``leaderboard/db/paper_days.py``), the same
  way: deep pages of the papers list;
- the papers' search vectors (``PaperSearch``, read by ``leaderboard/search.py``): a row trigger;
- the ledger's guard: UPDATE, DELETE and TRUNCATE of ``LedgerEntry`` refused.

SQLite keeps what a tested guarantee needs, with row triggers: the catalogue version (the caches
must never serve a page older than the data), the ledger's guard, and the FTS5 search table
(stemmed search, as on PostgreSQL; skipped where the library lacks FTS5). Its row counts are
plain COUNT queries served under the cache (no day counts: plain OFFSET); the count triggers
that earlier versions installed after ``migrate`` are removed here.

Each part is vendor-guarded and idempotent; the tables come from this migration's state of the
app (whatever migrations before it named them). A later migration that adds a table of the app,
or on SQLite rebuilds one (most field changes there: SQLite drops a table's triggers with it),
ends by running ``install`` again::

    triggers = importlib.import_module("leaderboard.migrations.0003_database_triggers")
    operations = [..., migrations.RunPython(triggers.install, migrations.RunPython.noop)]

``tests/leaderboard/test_api_cache.py`` and ``test_counters.py`` check every table on both
databases.
"""

import secrets

from django.db import migrations

# Tables that no trigger counts or versions: the version's own row and the counts' change rows
# (folding them changes no count, so must not make every cached page stale).
UNCOUNTED = {"catalogueversion", "rowcount", "paperdaycount"}

VERSION = "leaderboard_catalogueversion"
COUNTS = "leaderboard_rowcount"
DAYS = "leaderboard_paperdaycount"
PAPER = "leaderboard_paper"
RESULT = "leaderboard_result"
VECTOR = "leaderboard_papersearch"
LEDGER = "leaderboard_ledgerentry"
VERIFIED = f"{RESULT}:verified"

# The writers fold the change rows (see leaderboard/db/counters.py, paper_days.py): a write whose
# change row's id is a multiple of FOLD_EVERY folds the rows of the last FOLD_WINDOW ids it can
# lock (an index range: a long import stays linear), every FULL_FOLD_EVERY-th all of them.
COUNT_FOLD_EVERY, COUNT_FOLD_WINDOW, COUNT_FULL_FOLD_EVERY = 200, 2_000, 20_000
DAY_FOLD_EVERY, DAY_FOLD_WINDOW, DAY_FULL_FOLD_EVERY = 500, 10_000, 50_000


def catalogue_tables(apps, connection) -> list[str]:
    """Every table of the app (many-to-many ones included) but ``UNCOUNTED``, that exists."""
    existing = set(connection.introspection.table_names())
    models = apps.get_app_config("leaderboard").get_models(include_auto_created=True)
    return sorted(
        m._meta.db_table
        for m in models
        if m._meta.model_name not in UNCOUNTED and m._meta.db_table in existing
    )


# --- PostgreSQL ---------------------------------------------------------------------------------

PG_VERSION_FUNCTION = f"""
CREATE OR REPLACE FUNCTION leaderboard_bump_catalogue_version() RETURNS trigger AS $$
BEGIN
    -- Once per transaction: a long import would otherwise update the one shared row per
    -- statement, each update scanning the dead versions of the row before it (quadratic).
    -- The setting is local to the transaction (and to a savepoint rolled back with it);
    -- leaderboard/core/cache.py clears it when it reads the version, so a write after a read
    -- within one transaction bumps again.
    IF current_setting('leaderboard.version_bumped', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    UPDATE {VERSION} SET counter = counter + 1, stamp = (random() * 4e18)::bigint;
    PERFORM set_config('leaderboard.version_bumped', txid_current()::text, true);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def pg_fold_function(function: str, table: str, key: str, having: str = "") -> str:
    """``function(since)`` folds the change rows of ``table`` after id ``since`` that this
    transaction can lock into one row per ``key`` (SKIP LOCKED: rows a concurrent fold holds are
    left to it; every key's sum stays what it was). An index range however many dead rows the
    heap holds (no sequential scan). ``having``: a condition on the folded rows kept."""
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


PG_COUNT_FUNCTIONS = [
    pg_fold_function("leaderboard_count_fold", COUNTS, "name"),
    # One change row; the FOLD_EVERY-th (by id) folds the window, the FULL_FOLD_EVERY-th all.
    f"""
CREATE OR REPLACE FUNCTION leaderboard_count_add(table_name text, d bigint) RETURNS void AS $$
DECLARE rid bigint;
BEGIN
    INSERT INTO {COUNTS} (name, n) VALUES (table_name, d) RETURNING id INTO rid;
    IF rid % {COUNT_FULL_FOLD_EVERY} = 0 THEN
        PERFORM leaderboard_count_fold(0);
    ELSIF rid % {COUNT_FOLD_EVERY} = 0 THEN
        PERFORM leaderboard_count_fold(rid - {COUNT_FOLD_WINDOW});
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
    DELETE FROM {COUNTS} WHERE name = TG_TABLE_NAME OR name = TG_TABLE_NAME || ':verified';
    INSERT INTO {COUNTS} (name, n) VALUES (TG_TABLE_NAME, 0);
    IF TG_TABLE_NAME = '{RESULT}' THEN
        INSERT INTO {COUNTS} (name, n) VALUES ('{VERIFIED}', 0);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
]


def pg_table_triggers(table: str) -> list[str]:
    """The version's and the count's triggers of one table."""
    results = table == RESULT
    insert_fn = "leaderboard_count_results" if results else "leaderboard_count_insert"
    delete_fn = "leaderboard_count_results" if results else "leaderboard_count_delete"
    each = "FOR EACH STATEMENT EXECUTE FUNCTION"
    statements = [
        f"CREATE TRIGGER leaderboard_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f'ON "{table}" {each} leaderboard_bump_catalogue_version()',
        f'CREATE TRIGGER leaderboard_count_insert AFTER INSERT ON "{table}" '
        f"REFERENCING NEW TABLE AS new_rows {each} {insert_fn}()",
        f'CREATE TRIGGER leaderboard_count_delete AFTER DELETE ON "{table}" '
        f"REFERENCING OLD TABLE AS old_rows {each} {delete_fn}()",
        f'CREATE TRIGGER leaderboard_count_truncate AFTER TRUNCATE ON "{table}" '
        f"{each} leaderboard_count_truncate()",
    ]
    if results:
        statements.append(
            f'CREATE TRIGGER leaderboard_count_update AFTER UPDATE ON "{table}" '
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {each} "
            "leaderboard_count_results()"
        )
    names = ["version_bump", "count_insert", "count_delete", "count_update", "count_truncate"]
    drops = [f'DROP TRIGGER IF EXISTS leaderboard_{name} ON "{table}"' for name in names]
    return drops + statements


def pg_recount(table: str, name: str | None = None, where: str = "") -> str:
    """One statement, one snapshot: the name's change rows go and the table is counted."""
    name = name or table
    return (
        f"WITH gone AS (DELETE FROM {COUNTS} WHERE name = '{name}' RETURNING 1) "
        f"INSERT INTO {COUNTS} (name, n) SELECT '{name}', count(*) FROM \"{table}\" {where}"
    )


PG_DAYS = [
    pg_fold_function("leaderboard_paper_days_fold", DAYS, "day", "HAVING SUM(n) <> 0"),
    f"""
CREATE OR REPLACE FUNCTION leaderboard_paper_days() RETURNS trigger AS $$
DECLARE added bigint; last bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {DAYS};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {DAYS} (day, n) SELECT date, count(*) FROM new_rows GROUP BY date;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {DAYS} (day, n) SELECT date, -count(*) FROM old_rows GROUP BY date;
    ELSE
        INSERT INTO {DAYS} (day, n)
        SELECT day, SUM(n) FROM (
            SELECT date AS day, 1 AS n FROM new_rows UNION ALL SELECT date, -1 FROM old_rows
        ) moved GROUP BY day HAVING SUM(n) <> 0;
    END IF;
    GET DIAGNOSTICS added = ROW_COUNT;
    IF added > 0 THEN
        last := currval(pg_get_serial_sequence('{DAYS}', 'id'));
        IF last / {DAY_FULL_FOLD_EVERY} <> (last - added) / {DAY_FULL_FOLD_EVERY} THEN
            PERFORM leaderboard_paper_days_fold(0);
        ELSIF last / {DAY_FOLD_EVERY} <> (last - added) / {DAY_FOLD_EVERY} THEN
            PERFORM leaderboard_paper_days_fold(last - {DAY_FOLD_WINDOW});
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    *(f"DROP TRIGGER IF EXISTS leaderboard_days_{e} ON {PAPER}" for e in ("insert", "delete")),
    *(f"DROP TRIGGER IF EXISTS leaderboard_days_{e} ON {PAPER}" for e in ("update", "truncate")),
    f"CREATE TRIGGER leaderboard_days_insert AFTER INSERT ON {PAPER} "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_paper_days()",
    f"CREATE TRIGGER leaderboard_days_delete AFTER DELETE ON {PAPER} "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_paper_days()",
    f"CREATE TRIGGER leaderboard_days_update AFTER UPDATE ON {PAPER} "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_paper_days()",
    f"CREATE TRIGGER leaderboard_days_truncate AFTER TRUNCATE ON {PAPER} "
    "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_paper_days()",
    # One statement, one snapshot: the old rows go and the days are counted from the same papers.
    f"WITH gone AS (DELETE FROM {DAYS} RETURNING 1) "
    f"INSERT INTO {DAYS} (day, n) SELECT date, count(*) FROM {PAPER} GROUP BY date",
]

PG_VECTOR = (
    "setweight(to_tsvector('english', coalesce({row}.title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce({row}.authors::text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce({row}.abstract, '')), 'C')"
)
PG_SEARCH = [
    f"""
CREATE OR REPLACE FUNCTION leaderboard_paper_search_update() RETURNS trigger AS $$
BEGIN
    INSERT INTO {VECTOR} (paper_id, vector) VALUES (NEW.id, {PG_VECTOR.format(row="NEW")})
    ON CONFLICT (paper_id) DO UPDATE SET vector = EXCLUDED.vector;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    f"DROP TRIGGER IF EXISTS leaderboard_paper_search ON {PAPER}",
    f"DROP TRIGGER IF EXISTS leaderboard_paper_search_update ON {PAPER}",
    f"CREATE TRIGGER leaderboard_paper_search AFTER INSERT ON {PAPER} "
    "FOR EACH ROW EXECUTE FUNCTION leaderboard_paper_search_update()",
    f"CREATE TRIGGER leaderboard_paper_search_update AFTER UPDATE OF title, authors, abstract "
    f"ON {PAPER} FOR EACH ROW EXECUTE FUNCTION leaderboard_paper_search_update()",
    f"INSERT INTO {VECTOR} (paper_id, vector) SELECT p.id, {PG_VECTOR.format(row='p')} "
    f"FROM {PAPER} p WHERE NOT EXISTS (SELECT 1 FROM {VECTOR} s WHERE s.paper_id = p.id)",
]

REFUSED = "the ledger is append-only: entries are never updated or deleted"
PG_LEDGER_GUARD = [
    f"""
CREATE OR REPLACE FUNCTION leaderboard_ledger_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{REFUSED} (' || TG_OP || ')';
END;
$$ LANGUAGE plpgsql
""",
    f"DROP TRIGGER IF EXISTS leaderboard_ledger_no_change ON {LEDGER}",
    f"CREATE TRIGGER leaderboard_ledger_no_change BEFORE UPDATE OR DELETE ON {LEDGER} "
    "FOR EACH ROW EXECUTE FUNCTION leaderboard_ledger_refuse()",
    f"DROP TRIGGER IF EXISTS leaderboard_ledger_no_truncate ON {LEDGER}",
    f"CREATE TRIGGER leaderboard_ledger_no_truncate BEFORE TRUNCATE ON {LEDGER} "
    "FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_ledger_refuse()",
]

# Dropping a function drops its triggers (CASCADE): the reverse of every part.
PG_FUNCTIONS = [
    "leaderboard_bump_catalogue_version()",
    "leaderboard_count_fold(bigint)",
    "leaderboard_count_fold()",  # an earlier version's, where one is left
    "leaderboard_count_add(text, bigint)",
    "leaderboard_count_insert()",
    "leaderboard_count_delete()",
    "leaderboard_count_results()",
    "leaderboard_count_truncate()",
    "leaderboard_paper_days_fold(bigint)",
    "leaderboard_paper_days_fold()",
    "leaderboard_paper_days()",
    "leaderboard_paper_search_update()",
    "leaderboard_ledger_refuse()",
]


def executor(connection):
    """Run one statement as written: no parameters, so ``%`` in PL/pgSQL is left alone."""

    def execute(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return execute


def install_postgresql(apps, schema_editor) -> None:
    execute = executor(schema_editor.connection)
    for old in ("leaderboard_count_fold()", "leaderboard_paper_days_fold()"):
        execute(f"DROP FUNCTION IF EXISTS {old}")
    execute(PG_VERSION_FUNCTION)
    for statement in PG_COUNT_FUNCTIONS:
        execute(statement)
    tables = catalogue_tables(apps, schema_editor.connection)
    for table in tables:
        for statement in pg_table_triggers(table):
            execute(statement)
    # The first count of every table (and none of a table that is gone).
    kept = ", ".join(f"'{name}'" for name in [*tables, VERIFIED])
    execute(f"DELETE FROM {COUNTS} WHERE name NOT IN ({kept})")
    for table in tables:
        execute(pg_recount(table))
    execute(pg_recount(RESULT, VERIFIED, "WHERE source = 'verified'"))
    for statement in [*PG_DAYS, *PG_SEARCH, *PG_LEDGER_GUARD]:
        execute(statement)


# --- SQLite -------------------------------------------------------------------------------------

SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def sqlite_version_trigger(table: str, event: str) -> str:
    return (
        f'CREATE TRIGGER IF NOT EXISTS "leaderboard_version_{table}_{event.lower()}" '
        f'AFTER {event} ON "{table}" BEGIN '
        f"UPDATE {VERSION} SET counter = counter + 1, stamp = random(); END"
    )


SQLITE_LEDGER_GUARD = [
    f"CREATE TRIGGER IF NOT EXISTS leaderboard_ledger_no_{event.lower()} BEFORE {event} "
    f"ON {LEDGER} BEGIN SELECT RAISE(ABORT, '{REFUSED} ({event})'); END"
    for event in ("UPDATE", "DELETE")
]
# Search: an external-content FTS5 table over title, authors and abstract (porter stemming),
# kept current by row triggers and rebuilt from the paper table here. Without FTS5 in the SQLite
# library nothing is installed and search matches substrings (leaderboard/search.py).
FTS = "leaderboard_paper_fts"
_NEW = "new.id, new.title, new.authors, new.abstract"
_OLD = "'delete', old.id, old.title, old.authors, old.abstract"
SQLITE_SEARCH = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(title, authors, abstract, "
    f"content='{PAPER}', content_rowid='id', tokenize='porter unicode61')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} (rowid, title, authors, abstract) VALUES ({_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} ({FTS}, rowid, title, authors, abstract) VALUES ({_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} ({FTS}, rowid, title, authors, abstract) VALUES ({_OLD}); "
    f"INSERT INTO {FTS} (rowid, title, authors, abstract) VALUES ({_NEW}); END",
    f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')",
]
# What earlier versions installed after every migrate, no longer kept on SQLite: the row count
# triggers (SQLite counts with plain queries, leaderboard/db/counters.py).
SQLITE_RETIRED = "name GLOB 'leaderboard_count_*'"


def sqlite_triggers(connection, where: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND ({where})")
        return [row[0] for row in cursor.fetchall()]


def sqlite_has_fts5(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        return bool(cursor.fetchone()[0])


def install_sqlite(apps, schema_editor) -> None:
    connection = schema_editor.connection
    execute = executor(connection)
    for name in sqlite_triggers(connection, SQLITE_RETIRED):
        execute(f'DROP TRIGGER IF EXISTS "{name}"')
    execute(f"DELETE FROM {COUNTS}")
    for table in catalogue_tables(apps, connection):
        for event in SQLITE_EVENTS:
            execute(sqlite_version_trigger(table, event))
    for statement in SQLITE_LEDGER_GUARD:
        execute(statement)
    if sqlite_has_fts5(connection):
        for statement in SQLITE_SEARCH:
            execute(statement)


# --- both ---------------------------------------------------------------------------------------


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    Version = apps.get_model("leaderboard", "CatalogueVersion")
    using = schema_editor.connection.alias
    if vendor == "postgresql":
        install_postgresql(apps, schema_editor)
    elif vendor == "sqlite":
        install_sqlite(apps, schema_editor)
    else:  # no triggers: without a version row the caches store nothing
        Version.objects.using(using).all().delete()
        return
    # A random stamp: after a database is emptied and begun again, no version repeats.
    Version.objects.using(using).get_or_create(pk=1, defaults={"stamp": secrets.randbits(62)})


def uninstall(apps, schema_editor) -> None:
    connection = schema_editor.connection
    execute = executor(connection)
    if connection.vendor == "postgresql":
        for function in PG_FUNCTIONS:
            execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    elif connection.vendor == "sqlite":
        where = (
            "name GLOB 'leaderboard_version_*' OR name GLOB 'leaderboard_ledger_no_*'"
            f" OR name GLOB '{FTS}_*'"
        )
        for name in sqlite_triggers(connection, where):
            execute(f'DROP TRIGGER IF EXISTS "{name}"')
        execute(f"DROP TABLE IF EXISTS {FTS}")


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0002_search_indexes"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
