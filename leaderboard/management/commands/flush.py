"""``manage.py flush`` as Django has it, able to empty the ledger too, and leaving the catalogue
version's row in place.

The ledger's table refuses UPDATE, DELETE and TRUNCATE by database triggers (migration 0003).
Emptying the whole database (a test's teardown, a developer starting over) is the one time its
entries go: this lifts the guard for the flush, in one transaction with it, and puts it back
(``ledger_chain.guard_lifted``). The guard is against the application rewriting history, not
against the database's owner; against the owner, readers' copies of the chain (docs/ledger.md)
are the guard. The other triggers live in the schema and stay; the version row, emptied with
its table, is created again with a new random stamp (no earlier version repeats), as the
migration created it.
"""

import secrets

from django.core.management.commands import flush
from django.db import connections, transaction

from leaderboard.models import CatalogueVersion
from leaderboard.results.ledger_chain import guard_lifted


class Command(flush.Command):
    help = flush.Command.help + " The ledger's append-only triggers are lifted for it."

    def handle(self, **options):
        using = options["database"]
        with transaction.atomic(using=using), guard_lifted(using):
            super().handle(**options)
        connection = connections[using]
        table = CatalogueVersion._meta.db_table
        if (
            connection.vendor in ("postgresql", "sqlite")  # elsewhere no triggers keep it
            and table in connection.introspection.table_names()
        ):
            CatalogueVersion.objects.using(using).get_or_create(
                pk=1, defaults={"stamp": secrets.randbits(62)}
            )
