"""`check --deploy --database default` warns when the processes' pools together could
open more connections than PostgreSQL allows (less the headroom kept for operators), and
when MCP's threads could hold every connection of a process's pool."""

import subprocess
import sys

from tests.realtime.procs import ROOT, process_env, run_django

FINDINGS = """
from core.checks import database_connections_fit
result = [warning.id for warning in database_connections_fit(databases=["default"])]
"""


def test_pools_that_fit_pass_and_too_many_are_warned(team, tmp_path):
    fits = process_env(tmp_path, database=team.database, DATABASE_PROCESSES=5)
    assert run_django(FINDINGS, fits) == []
    too_many = process_env(
        tmp_path, database=team.database, DATABASE_PROCESSES=20, DATABASE_POOL_MAX=10
    )
    assert run_django(FINDINGS, too_many) == ["agent_kanban.W001"]
    without_the_database = FINDINGS.replace('databases=["default"]', "databases=None")
    assert run_django(without_the_database, too_many) == []


def test_the_deploy_check_prints_the_warning(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DATABASE_PROCESSES=20)
    command = [sys.executable, "manage.py", "check", "--deploy", "--database", "default"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    said = done.stderr + done.stdout
    assert "agent_kanban.W001" in said
    assert "20 processes with up to 10 connections each may open 200" in said


MCP_FINDINGS = """
from core.checks import mcp_threads_leave_connections
result = [warning.id for warning in mcp_threads_leave_connections()]
"""


def test_mcp_threads_as_many_as_the_pool_are_warned(team, tmp_path):
    below = process_env(tmp_path, database=team.database, MCP_THREADS=9, DATABASE_POOL_MAX=10)
    assert run_django(MCP_FINDINGS, below) == []
    as_many = process_env(tmp_path, database=team.database, MCP_THREADS=10, DATABASE_POOL_MAX=10)
    assert run_django(MCP_FINDINGS, as_many) == ["agent_kanban.W002"]
    without_a_pool = process_env(
        tmp_path, database=team.database, MCP_THREADS=10, DATABASE_POOL_MAX=0
    )
    assert run_django(MCP_FINDINGS, without_a_pool) == []
    # The default stays below any pool.
    small_pool = process_env(tmp_path, database=team.database, DATABASE_POOL_MAX=3)
    threads = "from django.conf import settings\nresult = settings.MCP_THREADS"
    assert run_django(threads, small_pool) == 1
    assert run_django(MCP_FINDINGS, small_pool) == []
