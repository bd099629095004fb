from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from core import (
            checks,  # noqa: F401  (registers the system checks)
            openapi_extensions,  # noqa: F401  (registers the schema extension)
        )
