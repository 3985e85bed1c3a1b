"""The package's rooms: data flows one way, from the ground floor up to the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nlp"

# Each sub-package and the floor it stands on; a module may import only from its own floor or below.
# Rooms that share a floor (evaluation and apps) do not import each other. The codebook stands on
# io because the one in use is found through the home (``nlp.io.home``).
FLOORS = {
    "errors": 0,
    "io": 1,
    "taxonomy": 2,
    "corpus": 3,
    "model": 4,
    "evaluation": 5, "apps": 5,
    "research": 6,
    "cli": 7,
}


def _room(module: str) -> str:
    """The top-level room of a dotted module under ``nlp`` ('model.predict' -> 'model')."""
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """Modules under ``nlp`` that the file imports, as dotted names relative to ``nlp``."""
    package = path.relative_to(PACKAGE).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "nlp":
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                found.add(".".join(target))
            else:  # `from . import x` in the package root
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name[4:] for a in node.names if a.name.startswith("nlp."))
    return found


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem not in ("__init__", "__main__")]


def test_at_most_eight_modules_at_the_top_and_at_least_four_rooms():
    top = [p for p in PACKAGE.glob("*.py")]
    rooms = [p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert len(top) <= 8, sorted(p.name for p in top)
    assert len(rooms) >= 4


@pytest.mark.parametrize("room", [r for r in FLOORS if (PACKAGE / r / "__init__.py").exists()])
def test_each_room_says_what_lives_there(room):
    doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text(encoding="utf-8")))
    assert doc and len(doc.splitlines()) == 1


def test_no_module_imports_a_room_above_its_own():
    upward = []
    for path in _modules():
        own = _room(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for target in _imports(path):
            room = _room(target)
            if room == own or room not in FLOORS:
                continue
            same_floor_other_room = FLOORS[room] == FLOORS[own] and room != own
            if FLOORS[room] > FLOORS[own] or same_floor_other_room:
                upward.append(f"{path.relative_to(PACKAGE)} -> {target}")
    assert not upward, upward


def test_every_module_belongs_to_a_known_room():
    rooms = {_room(".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in _modules()}
    assert rooms <= set(FLOORS), rooms - set(FLOORS)


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for path in _modules():
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {t for t in _imports(path)}
    known = set(graph)

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph[node]:
            nxt = resolve(target)
            if nxt is None or nxt == node or node.startswith(nxt + "."):
                continue  # a module importing its own package's face is not a cycle of modules
            if state.get(nxt) == 1:
                pytest.fail(f"import cycle: {' -> '.join(trail + [node, nxt])}")
            if not state.get(nxt):
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [])
