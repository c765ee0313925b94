from django.apps import AppConfig
from django.db.models.signals import post_save


class LeaderboardConfig(AppConfig):
    name = "leaderboard"
    verbose_name = "Leaderboard"

    def ready(self):
        from leaderboard.authors import on_paper_saved

        post_save.connect(
            on_paper_saved, sender=self.get_model("Paper"), dispatch_uid="leaderboard_authors"
        )
