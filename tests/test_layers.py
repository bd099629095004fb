"""The layers contract in pyproject.toml covers every app, so a new app cannot stand
outside the order (`lint-imports`, run by .ci/run, checks the imports themselves)."""

import tomllib

from django.apps import apps
from django.conf import settings

# Packages at the root that are not part of the application.
NOT_APPS = {"tests", "bench"}


def contract() -> dict:
    with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
        config = tomllib.load(file)["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return {"roots": set(config["root_packages"]), "layers": layers["layers"]}


def layered_packages(layers: list[str]) -> list[str]:
    return [name.strip() for layer in layers for name in layer.split("|")]


def test_every_package_at_the_root_is_in_one_layer():
    packages = {
        path.name for path in settings.BASE_DIR.iterdir() if (path / "__init__.py").is_file()
    }
    layered = layered_packages(contract()["layers"])
    assert len(layered) == len(set(layered)), "a package stands in two layers"
    assert set(layered) == packages - NOT_APPS
    assert contract()["roots"] == set(layered)


def test_every_installed_app_of_ours_is_layered():
    ours = {
        config.name
        for config in apps.get_app_configs()
        if (settings.BASE_DIR / config.name).is_dir()
    }
    assert ours <= set(layered_packages(contract()["layers"]))


def test_composition_is_on_top_and_core_at_the_bottom():
    layers = contract()["layers"]
    assert layers[0] == "agent_kanban"
    assert layers[-1] == "core"
