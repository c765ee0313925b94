from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class LeaderboardConfig(AppConfig):
    name = "leaderboard"
    verbose_name = "Leaderboard"

    def ready(self):
        from leaderboard.authors import on_paper_saved
        from leaderboard.db.counters import install_counters
        from leaderboard.db.paper_days import install_paper_days
        from leaderboard.db.search_sql import install_search
        from leaderboard.db.triggers import install_version_triggers
        from leaderboard.results.ledger_chain import install_guards

        post_migrate.connect(
            install_version_triggers, sender=self, dispatch_uid="leaderboard_version_triggers"
        )
        post_migrate.connect(install_search, sender=self, dispatch_uid="leaderboard_search")
        post_migrate.connect(install_counters, sender=self, dispatch_uid="leaderboard_counters")
        post_migrate.connect(install_guards, sender=self, dispatch_uid="leaderboard_ledger_guards")
        post_migrate.connect(install_paper_days, sender=self, dispatch_uid="leaderboard_paper_days")
        post_save.connect(
            on_paper_saved, sender=self.get_model("Paper"), dispatch_uid="leaderboard_authors"
        )
