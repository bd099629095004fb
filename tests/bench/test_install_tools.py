"""`bench/install-tools` installs every package `bench/run` and its workloads import: no
`No module named 'httpx'` after following bench/README.md."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement

ROOT = Path(settings.BASE_DIR)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str:
    return canonical(re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0])


def listed_in(path: Path) -> set[str]:
    """The distributions a requirements file names, following `-r` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= listed_in(path.parent / line[3:].strip())
        elif line:
            names.add(requirement_name(line))
    return names


def with_dependencies(names: set[str]) -> set[str]:
    """`names` and everything they require here (this platform, no extras)."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return found


def installed_by_install_tools() -> set[str]:
    script = (ROOT / "bench" / "install-tools").read_text()
    runs = re.findall(r"^\s*scripts/bootstrap (\w+)", script, flags=re.MULTILINE)
    files = [ROOT / f"requirements-{which}.txt" for which in runs]
    return with_dependencies(set().union(*(listed_in(path) for path in files)))


def imported_by_bench() -> set[str]:
    """Top-level modules bench/ imports that are neither the standard library nor ours."""
    sources = [ROOT / "bench" / "run", *(ROOT / "bench").rglob("*.py")]
    modules = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    ours = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    return modules - set(sys.stdlib_module_names) - ours


def test_install_tools_installs_what_bench_imports():
    installed = installed_by_install_tools()
    providers = metadata.packages_distributions()
    missing = {
        module
        for module in imported_by_bench()
        if not {canonical(name) for name in providers.get(module, [])} & installed
    }
    assert not missing, f"bench/ imports {sorted(missing)}, which bench/install-tools lacks"
    assert {"httpx", "websockets", "playwright", "gunicorn"} <= installed
