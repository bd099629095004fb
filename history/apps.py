from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "history"

    def ready(self) -> None:
        # Connect the receivers: the domain signals that write history, and the user
        # saves that tell open WebSockets about lost rights.
        from history import access_push, receivers  # noqa: F401
