"""The kit's files on their own: the units pass systemd's checks, the environment
template names every setting the code reads and passes `check --deploy`, and the
template renderer refuses to leave a placeholder behind."""

import re
import shutil
import subprocess
import sys

import pytest

from tests.deploy.stack import (
    DEPLOY,
    ENV_EXAMPLE,
    INSTALL_PREFIX,
    ROOT,
    SITE_TEMPLATE,
    UNITS,
    manage_command,
    new_secret,
    read_env_file,
    write_env_file,
)

SETTING_READ = re.compile(
    r"""(?:env_(?:str|bool|int|list|rate)\(|os\.environ\.get\()\s*["']([A-Z][A-Z0-9_]*)["']"""
)
# Read by code but not server settings: the test suite's own and the stdio MCP client's.
NOT_SERVER_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
APP_DIRS = ("agent_kanban", "agents", "boards", "tickets", "comments", "history", "stats")
APP_DIRS += ("audit", "backups")


def settings_read_by_the_code() -> set[str]:
    names = set()
    for folder in APP_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            names.update(SETTING_READ.findall(path.read_text()))
    return names - NOT_SERVER_SETTINGS


def test_the_env_example_lists_every_setting_with_its_meaning_and_default():
    example = read_env_file(ENV_EXAMPLE)
    missing = settings_read_by_the_code() - set(example)
    assert not missing, f"add to {ENV_EXAMPLE.name}: {sorted(missing)}"
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if not line or line.startswith("#"):
            continue
        # The comment block above a setting (shared by a group) says what it does and its default.
        block = []
        for above in reversed(lines[:index]):
            if not above.startswith("#"):
                if block:
                    break
                continue
            block.append(above)
        assert any("Default" in comment for comment in block), f"no default for {line}"
        assert len(" ".join(block)) > 30, f"no meaning for {line}"


def test_env_values_read_alike_by_systemd_and_the_shell():
    # systemd's EnvironmentFile strips quotes and backslashes that a shell would keep.
    for name, value in read_env_file(ENV_EXAMPLE).items():
        assert re.fullmatch(r"[^\s'\"$`\\;&|<>()]*", value), f"{name}={value}"


def check_deploy(env_file) -> subprocess.CompletedProcess:
    command = manage_command(env_file, "check", "--deploy", "--fail-level", "WARNING")
    return subprocess.run(**command, timeout=120)


def test_check_deploy_is_clean_with_the_env_example_filled_in(tmp_path):
    values = read_env_file(ENV_EXAMPLE)
    # The REQUIRED blanks, and this machine's paths instead of the server's.
    values.update(SECRET_KEY=new_secret(), METRICS_TOKEN=new_secret())
    values.update(VAR_DIR=str(tmp_path / "var"), STATIC_ROOT=str(tmp_path / "static"))
    values.update(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    done = check_deploy(write_env_file(tmp_path / "ok.env", values))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout

    # Left as shipped, the blank SECRET_KEY stops the start.
    values["SECRET_KEY"] = ""
    done = check_deploy(write_env_file(tmp_path / "blank.env", values))
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_every_unit_passes_systemd_analyze_verify(tmp_path):
    """Checked as installed: the same files with this checkout as /opt/agent-kanban and
    the current user (the account agent-kanban does not exist here)."""
    env_file = tmp_path / "agent-kanban.env"
    env_file.write_text("")
    names = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace(INSTALL_PREFIX, str(ROOT))
        text = text.replace("/etc/agent-kanban/agent-kanban.env", str(env_file))
        text = re.sub(r"^(User|Group)=agent-kanban$", r"\1=root", text, flags=re.MULTILINE)
        name = unit.name.replace("@.", "@8001.")  # an instance of the template
        (tmp_path / name).write_text(text)
        names.append(name)
    assert {"agent-kanban-gunicorn.service", "agent-kanban-daphne@8001.service"} <= set(names)
    assert {"agent-kanban-expire-leases.timer", "agent-kanban-backup.timer"} <= set(names)
    done = subprocess.run(
        [shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze", "verify", "--man=no"]
        + [f"./{name}" for name in names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"SERVER_NAME": "kanban.example.org"}, "missing: "),
        ({"SERVER_NAME": "x", "SERVER_NAEM": "typo"}, "not in the template: SERVER_NAEM"),
    ],
)
def test_render_refuses_a_missing_or_unknown_placeholder(values, problem):
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "render"), str(SITE_TEMPLATE)]
        + [f"{name}={value}" for name, value in values.items()],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert problem in done.stderr
    assert done.stdout == ""
