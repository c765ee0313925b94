"""The database side of search (see ``leaderboard/search.py``), installed after every ``migrate``
(idempotent), like the catalogue version's triggers: SQLite's schema editor drops a table's
triggers when it rebuilds it, and a later migration of ``Paper`` must not leave search stale.

PostgreSQL: a row trigger on the paper table writes the paper's ``PaperSearch`` vector on every
insert and on every update of its title, authors or abstract (``bulk_create`` and raw SQL
included); the GIN index on the vector and the trigram indexes on names come from migration
leaderboard 0002. SQLite: an external-content FTS5 table over title, authors and abstract (porter
stemming), kept current by triggers, rebuilt from the paper table when (re)installed. Without
FTS5 in the SQLite library nothing is installed and search falls back to substring matching.
"""

import logging

from django.db import connections

logger = logging.getLogger(__name__)

PAPER = "leaderboard_paper"
VECTOR = "leaderboard_papersearch"
FTS = "leaderboard_paper_fts"

PG_VECTOR_EXPR = (
    "setweight(to_tsvector('english', coalesce({row}.title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce({row}.authors::text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce({row}.abstract, '')), 'C')"
)
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION leaderboard_paper_search_update() RETURNS trigger AS $$
BEGIN
    INSERT INTO {VECTOR} (paper_id, vector) VALUES (NEW.id, {PG_VECTOR_EXPR.format(row="NEW")})
    ON CONFLICT (paper_id) DO UPDATE SET vector = EXCLUDED.vector;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGERS = [
    f"DROP TRIGGER IF EXISTS leaderboard_paper_search ON {PAPER}",
    f"DROP TRIGGER IF EXISTS leaderboard_paper_search_update ON {PAPER}",
    f"CREATE TRIGGER leaderboard_paper_search AFTER INSERT ON {PAPER} "
    "FOR EACH ROW EXECUTE FUNCTION leaderboard_paper_search_update()",
    f"CREATE TRIGGER leaderboard_paper_search_update AFTER UPDATE OF title, authors, abstract "
    f"ON {PAPER} FOR EACH ROW EXECUTE FUNCTION leaderboard_paper_search_update()",
]
PG_BACKFILL = (
    f"INSERT INTO {VECTOR} (paper_id, vector) SELECT p.id, {PG_VECTOR_EXPR.format(row='p')} "
    f"FROM {PAPER} p WHERE NOT EXISTS (SELECT 1 FROM {VECTOR} s WHERE s.paper_id = p.id)"
)

SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(title, authors, abstract, "
    f"content='{PAPER}', content_rowid='id', tokenize='porter unicode61')"
)
_NEW = "new.id, new.title, new.authors, new.abstract"
_OLD = "'delete', old.id, old.title, old.authors, old.abstract"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} (rowid, title, authors, abstract) VALUES ({_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} ({FTS}, rowid, title, authors, abstract) VALUES ({_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE ON {PAPER} BEGIN "
    f"INSERT INTO {FTS} ({FTS}, rowid, title, authors, abstract) VALUES ({_OLD}); "
    f"INSERT INTO {FTS} (rowid, title, authors, abstract) VALUES ({_NEW}); END",
]


def install_search(using: str = "default", **kwargs) -> None:
    connection = connections[using]
    tables = connection.introspection.table_names()
    if PAPER not in tables or (connection.vendor == "postgresql" and VECTOR not in tables):
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for statement in PG_TRIGGERS:
                cursor.execute(statement)
            cursor.execute(PG_BACKFILL)
        elif connection.vendor == "sqlite":
            try:
                cursor.execute(SQLITE_FTS)
            except Exception as exc:  # SQLite built without FTS5: substring search instead
                logger.warning("SQLite has no FTS5 (%s): search matches substrings", exc)
                return
            for statement in SQLITE_TRIGGERS:
                cursor.execute(statement)
            cursor.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")
