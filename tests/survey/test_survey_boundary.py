"""survey/ is the pure domain: standard library and survey itself only
(docs/architecture.md §Architecture contracts)."""

import ast
import sys
from pathlib import Path

import pytest

SURVEY = Path(__file__).resolve().parents[2] / "survey"
MODULES = ["__init__", "_text", "scale", "questionnaire", "replies", "complaints", "scoring", "assessment", "privacy"]


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", MODULES)
def test_only_stdlib_imports(module):
    roots = _imported_roots(SURVEY / f"{module}.py")
    assert roots <= set(sys.stdlib_module_names) | {"survey"}, roots - set(sys.stdlib_module_names)
