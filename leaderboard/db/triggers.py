"""Keep the catalogue version's database triggers in place (see ``CatalogueVersion``).

After every ``migrate`` (and after a test database is flushed), every table of this app but the
version's own gets triggers that bump the version row in the same statement's transaction, and
the version row is created if missing. Done here rather than only in a migration so that a table
added later, or one that SQLite's schema editor rebuilt (which drops its triggers), is covered
again. On a database other than PostgreSQL or SQLite no trigger is installed and the version row
is removed: without a row the read API caches nothing (see ``leaderboard/core/cache.py``).
"""

import secrets

from django.apps import apps as global_apps
from django.db import connections

FUNCTION = "leaderboard_bump_catalogue_version"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
BEGIN
    -- Once per transaction: a long import would otherwise update the one shared row per
    -- statement, each update scanning the dead versions of the row before it (quadratic).
    -- The setting is local to the transaction (and to a savepoint rolled back with it);
    -- leaderboard/core/cache.py clears it when it reads the version, so a write after a read
    -- within one transaction bumps again.
    IF current_setting('leaderboard.version_bumped', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    UPDATE {{version}} SET counter = counter + 1, stamp = (random() * 4e18)::bigint;
    PERFORM set_config('leaderboard.version_bumped', txid_current()::text, true);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGER = (
    "CREATE TRIGGER leaderboard_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
    f"ON {{table}} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} BEGIN "
    "UPDATE {version} SET counter = counter + 1, stamp = random(); END"
)


def catalogue_tables() -> list[str]:
    """Every table of this app whose writes change what the read API shows."""
    # The version's own row, and the maintained row counts (leaderboard/db/counters.py: folding
    # them changes no count, so it must not make every cached page stale).
    skip = {
        global_apps.get_model("leaderboard", "CatalogueVersion"),
        global_apps.get_model("leaderboard", "RowCount"),
        global_apps.get_model("leaderboard", "PaperDayCount"),
    }
    config = global_apps.get_app_config("leaderboard")
    return sorted(
        m._meta.db_table for m in config.get_models(include_auto_created=True) if m not in skip
    )


def install_version_triggers(using: str = "default", **kwargs) -> None:
    """Idempotent: (re)create the triggers and the version row on database ``using``."""
    connection = connections[using]
    version = global_apps.get_model("leaderboard", "CatalogueVersion")
    table = version._meta.db_table
    if table not in connection.introspection.table_names():
        return  # leaderboard not migrated this far yet
    q = connection.ops.quote_name
    existing = set(connection.introspection.table_names())
    tables = [t for t in catalogue_tables() if t in existing]  # a partial migrate lacks some
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION.format(version=q(table)))
            for t in tables:
                cursor.execute(f"DROP TRIGGER IF EXISTS leaderboard_version_bump ON {q(t)}")
                cursor.execute(PG_TRIGGER.format(table=q(t)))
        elif connection.vendor == "sqlite":
            for t in tables:
                for event in ("INSERT", "UPDATE", "DELETE"):
                    name = q(f"leaderboard_version_{t}_{event.lower()}")
                    cursor.execute(
                        SQLITE_TRIGGER.format(name=name, event=event, table=q(t), version=q(table))
                    )
        else:
            version.objects.using(using).all().delete()
            return
    # A new row gets a random stamp too: after a flush, it must not repeat an earlier version.
    version.objects.using(using).get_or_create(pk=1, defaults={"stamp": secrets.randbits(62)})
