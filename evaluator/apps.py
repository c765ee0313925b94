from django.apps import AppConfig


class EvaluatorConfig(AppConfig):
    name = "evaluator"
    verbose_name = "Verification"

    def ready(self):
        from evaluator import (
            checks,  # noqa: F401 (registers the verified-rows database check)
            tasks,  # noqa: F401 (registers the tasks: runs.dispatch sends by name)
        )

        # Upload files a killed server left in FILE_UPLOAD_TEMP_DIR (var/uploads), once stale.
        from evaluator.validation.uploads import sweep_stale_uploads

        sweep_stale_uploads()
