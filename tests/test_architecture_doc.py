"""docs/architecture.md stays true to the code: its callback state diagram draws exactly the transition table,
every module and name it spells out (`callback.x.y`) exists, and every section the code cites
(``docs/architecture.md §Heading``) exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from callback.responses.states import TRANSITIONS, CallbackState

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CITATION = re.compile(r"docs/architecture\.md((?:,? ?§[^§)\n.;:]+)+)")


def drawn_edges(section: str) -> set[tuple[str, str]]:
    block = re.search(rf"## {section}\n.*?```mermaid\n(.*?)```", DOC, re.S)
    assert block, f"no Mermaid diagram under '## {section}'"
    return set(re.findall(r"^\s*(\w+) --> (\w+)", block.group(1), re.M))


def headings() -> set[str]:
    return {line.lstrip("#").strip() for line in DOC.splitlines() if line.startswith("#")}


def test_the_callback_diagram_draws_the_transition_table() -> None:
    table = {(str(a), str(b)) for a, targets in TRANSITIONS.items() for b in targets if a != b}
    assert drawn_edges("Callback states") == table  # moving to itself (a late answer) is written out in the text


def test_every_state_has_a_place_in_the_diagram() -> None:
    drawn = {state for edge in drawn_edges("Callback states") for state in edge}
    assert drawn == {str(state) for state in CallbackState}


def test_every_cited_section_exists() -> None:
    cited: dict[str, str] = {}
    for package in ("callback", "ivr", "survey", "worker", "tests"):
        for path in (ROOT / package).rglob("*.py"):
            if path == Path(__file__).resolve():
                continue
            text = re.sub(r"\s*\n\s*#?\s*", " ", path.read_text(encoding="utf-8"))  # citations may wrap
            for group in CITATION.findall(text):
                for name in re.findall(r"§([^§,]+)", group):
                    cited.setdefault(name.strip(), path.relative_to(ROOT).as_posix())
    assert cited, "the scan found no citation at all"
    known = headings()
    missing = {name: where for name, where in cited.items()
               if not any(name == h or name.startswith(f"{h} ") for h in known)}
    assert missing == {}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_module_and_name_the_doc_spells_out_exists() -> None:
    named = set(re.findall(r"`((?:callback|ivr|survey|worker)(?:\.[A-Za-z_]\w*)+)", DOC))
    assert len(named) > 50, "the scan found too few names; has the doc's notation changed?"
    assert sorted(name for name in named if not resolves(name)) == []
