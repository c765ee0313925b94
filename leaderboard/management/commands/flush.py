"""``manage.py flush`` as Django has it, able to empty the ledger too.

The ledger's table refuses UPDATE, DELETE and TRUNCATE by database triggers
(``leaderboard/results/ledger_chain.py``). Emptying the whole database (a test's teardown, a
developer
starting over) is the one time its entries go: this lifts the triggers for the flush, in one
transaction with it, and puts them back. The guard is against the application rewriting
history, not against the database's owner; against the owner, readers' copies of the chain
(docs/ledger.md) are the guard.
"""

from django.core.management.commands import flush
from django.db import transaction

from leaderboard.results.ledger_chain import install_guards, remove_guards


class Command(flush.Command):
    help = flush.Command.help + " The ledger's append-only triggers are lifted for it."

    def handle(self, **options):
        using = options["database"]
        with transaction.atomic(using=using):
            remove_guards(using)
            super().handle(**options)
            install_guards(using)
