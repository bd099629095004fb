from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        # User saves, deletions and sign-outs tell open connections about lost rights.
        from live import access_push  # noqa: F401
