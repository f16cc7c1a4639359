"""Every third-party import is declared, and every pin is the version that is installed."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
REQUIREMENT_FILES = ["requirements.txt", "requirements-dev.txt"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for filename in REQUIREMENT_FILES:
        for line in (BASE_DIR / filename).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-r"):
                continue
            match = PIN.match(line)
            assert match, f"{filename}: {line!r} is not pinned with =="
            pins[_normalize(match[1])] = match[2]
    return pins


def _project_files() -> list[Path]:
    skip = {".venv", "staticfiles", "var", ".git", "node_modules"}
    return [
        path for path in BASE_DIR.rglob("*.py") if not skip & set(path.relative_to(BASE_DIR).parts)
    ]


def _third_party_imports() -> dict[str, Path]:
    local = {p.stem for p in BASE_DIR.iterdir() if p.suffix == ".py" or p.is_dir()}
    imports = {}
    for path in _project_files():
        siblings = {p.stem for p in path.parent.iterdir() if p.suffix == ".py"}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local | siblings:
                    imports.setdefault(top, path)
    return imports


def test_every_third_party_import_is_a_pinned_requirement():
    pins = _pins()
    distributions = metadata.packages_distributions()

    undeclared = {
        module: str(path.relative_to(BASE_DIR))
        for module, path in _third_party_imports().items()
        if not {_normalize(d) for d in distributions.get(module, [module])} & set(pins)
    }

    assert undeclared == {}


def test_pins_are_the_installed_versions():
    mismatched = {
        name: (pinned, metadata.version(name))
        for name, pinned in _pins().items()
        if metadata.version(name) != pinned
    }

    assert mismatched == {}
