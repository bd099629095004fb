"""Every row the write paths may touch, to prove a refused write left nothing behind."""

from django.apps import apps

APPS = ("boards", "tickets", "comments", "history")


def database_rows() -> dict[str, list[tuple]]:
    rows = {}
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            values = model.objects.order_by("pk").values_list()
            rows[model._meta.label] = [tuple(map(repr, row)) for row in values]
    return rows


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]
