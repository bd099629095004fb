from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "history"

    def ready(self) -> None:
        # Connect the receivers of the domain signals that write history.
        from history import receivers  # noqa: F401
