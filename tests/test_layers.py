"""The house rule of one-way layers, checked on the source: the import graph between medianest's packages
(and its top-level modules) has no cycle, and each layer imports only layers below it. Every import counts,
including those inside functions (a lazy import is still a dependency). Run alone with
`python3 run.py pytest tests/test_layers.py`.

Layers, lowest first: core modules -> db -> shared machinery (jobs, integrations, security) -> capabilities
-> the composition root (parts) -> realtime -> the entry points (api, web, cli, app, asgi, server). `db/models.py`,
the aggregator Alembic reads, alone may import the capabilities' models.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "medianest"
CORE = {"__init__", "config", "context", "errors", "events", "filenames", "inputs", "logs", "metrics", "text"}
LAYERS: list[set[str]] = [
    CORE,
    {"db"},
    {"jobs", "integrations", "security", "storage"},
    {"audit", "accounts", "library", "playback", "playlists", "streaming", "connections", "subtitles", "requests",
     "downloads", "transcoding", "discovery", "speech", "subscriptions"},
    {"parts"},
    {"realtime"},
    {"api", "subsonic", "web", "cli", "app", "asgi", "server", "__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
AGGREGATOR = "db/models.py"  # imports every capability's models so Alembic sees them all


def _unit(path: Path) -> str:
    """A package's folder name, or a top-level module's name."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _targets(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] != "medianest":
                continue
            if len(parts) == 1:  # `from medianest import x`: x is a package or a module
                found.update(a.name for a in node.names) if isinstance(node, ast.ImportFrom) else None
                found.add("__init__")
            else:
                found.add(parts[1])
    return found


def import_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the files (relative to src/medianest) that import it."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if rel == AGGREGATOR or "/migrations/" in rel:
            continue
        unit = _unit(path)
        for target in _targets(ast.parse(path.read_text(), rel)) - {unit}:
            graph[unit][target].add(rel)
    return graph


def test_every_package_and_module_has_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py")}
    assert units - RANK.keys() == set(), "give each new package a layer in LAYERS"


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = [f"{file}: {unit} -> {target}" for unit, targets in import_graph().items()
              for target, files in targets.items() for file in sorted(files)
              if target in RANK and RANK[target] > RANK[unit]]
    assert upward == []


def test_the_import_graph_between_packages_has_no_cycle() -> None:
    graph = import_graph()
    cycles = sorted(f"{a} <-> {b}: {sorted(graph[a][b])} | {sorted(graph[b][a])}"
                    for a in graph for b in graph[a] if a < b and a in graph.get(b, {}))
    assert cycles == []  # pairs; longer loops are caught by the layer test (and by the walk below)
    state: dict[str, int] = {}

    def visit(unit: str, trail: list[str]) -> None:
        state[unit] = 1
        for target in graph.get(unit, {}):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, unit, target]))
            if target not in state:
                visit(target, [*trail, unit])
        state[unit] = 2

    for unit in list(graph):
        if unit not in state:
            visit(unit, [])


def test_capabilities_never_talk_to_socketio() -> None:
    """They emit through a Notifier (medianest.events); realtime/ decides how events travel."""
    graph = import_graph()
    offenders = {unit: sorted(graph[unit]["realtime"]) for unit in LAYERS[3] if "realtime" in graph.get(unit, {})}
    assert offenders == {}
