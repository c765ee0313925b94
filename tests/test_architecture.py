"""The layers of docs/architecture.md hold: no import circle between the project's modules (a
function-level import counts), ``leaderboard`` imports nothing of ``evaluator``, and ``maml_ref``
imports neither app nor Django. Read from the source, as text: nothing is imported here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "evaluator", "leaderboard", "maml_ref")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    found = set()
    for target in targets:
        while target and target not in known:  # ``from a.b import name``: the module a.b
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    # A package's __init__ that its own modules import does not make a circle by itself.
    return {name: imported(name, path, known) for name, path in known.items()}


def test_no_import_circles(graph):
    state: dict[str, int] = {}
    circles = []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodule
                continue
            if state.get(nxt) == 1:
                circles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert circles == []


def test_the_layers_import_downwards_only(graph):
    wrong = []
    for name, targets in graph.items():
        for target in targets:
            if name.startswith("leaderboard") and target.startswith("evaluator"):
                wrong.append((name, target))
            if name.startswith("maml_ref") and not target.startswith("maml_ref"):
                wrong.append((name, target))
    assert wrong == []


def test_the_graph_is_read(graph):
    """The test above has something to check: the known arrows are found."""
    assert "evaluator.runs" in graph["evaluator.tasks"]
    assert "evaluator.worker" in graph["evaluator.runs"]
    assert "leaderboard.models" in graph["evaluator.publishing"]
    assert "leaderboard.core.cache" in graph["leaderboard.core.paginators"]
