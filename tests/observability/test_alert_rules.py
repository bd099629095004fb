"""deploy/alerts/agent-kanban.rules.yml: valid rule files, about metrics that exist."""

import re

import yaml
from django.conf import settings
from prometheus_client import REGISTRY

from core import metrics, routes  # noqa: F401 (metrics: registers the metrics the rules name)

RULES = settings.BASE_DIR / "deploy" / "alerts" / "agent-kanban.rules.yml"
WANTED = {
    "AgentKanbanTargetDown",
    "AgentKanbanHigh5xxRate",
    "AgentKanbanHighP99Latency",
    "AgentKanbanNoWebSocketConnections",
    "AgentKanbanClaimsRefusedSpike",
}


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_names() -> set[str]:
    """Every sample name the app can export (counters with _total, histogram parts)."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("agent_kanban_"):
            continue
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_count", "_sum"],
        }.get(family.type, [""])
        names.update(family.name + suffix for suffix in suffixes)
    return names


def test_the_rules_parse_and_are_complete():
    found = rules()
    assert {rule["alert"] for rule in found} >= WANTED
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_every_metric_a_rule_names_is_one_the_app_exports():
    available = exported_names()
    assert "agent_kanban_http_requests_total" in available
    for rule in rules():
        for name in re.findall(r"agent_kanban_\w+", rule["expr"]):
            assert name in available, (rule["alert"], name)


def test_route_labels_in_rules_are_routes_the_app_has():
    from django.urls import resolve

    for rule in rules():
        for route in re.findall(r'route="([^"]+)"', rule["expr"]):
            sample = re.sub(r"<\w+>", "1", route)
            assert routes.route_label(resolve(sample).route) == route, rule["alert"]
