"""The rules the code keeps (docs/development.md): no import cycles (function-level imports included), no context
variable selecting a mode, the core imports no add-on, no front end names a family's output keys, and no function
in product code over 60 lines. Read from the source, so a change that breaks a rule fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "flagcore", *sorted(p for p in (ROOT / "plugins").glob("*/flagcore_*") if p.is_dir())]
M3_KEYS = ("dense_vecs", "lexical_weights", "colbert_vecs")
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    package_root = next(p for p in PACKAGES if p in path.parents or p == path.parent).parent
    parts = list(path.relative_to(package_root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(path): path for package in PACKAGES for path in sorted(package.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in SOURCES.items()}


def imported_modules(name: str, tree: ast.AST) -> set[str]:
    """The product modules ``name`` imports anywhere in its code (a package's own __init__ included)."""
    package = name if SOURCES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in SOURCES else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in SOURCES and target != name}
    return found


def cycles() -> list[list[str]]:
    graph = {name: imported_modules(name, tree) for name, tree in TREES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_product_code():
    assert cycles() == []


def test_the_cycle_check_sees_function_level_imports(tmp_path):
    tree = ast.parse("def late():\n    from .embedder import AbsEmbedder\n")
    assert "flagcore.embedder" in imported_modules("flagcore.limits", tree)


def test_no_context_variable_selects_a_mode():
    users = [name for name, tree in TREES.items() for node in ast.walk(tree)
             if isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) ==
             "ContextVar"]
    assert users == []


def test_the_core_imports_no_add_on():
    core = {name: tree for name, tree in TREES.items() if name.split(".")[0] == "flagcore"}
    add_ons = {name: sorted(m for m in imported_modules(name, tree) if m.split(".")[0] != "flagcore")
               for name, tree in core.items()}
    assert {name: found for name, found in add_ons.items() if found} == {}


@pytest.mark.parametrize("key", M3_KEYS)
def test_only_the_m3_family_names_its_output_keys(key):
    namers = [name for name, tree in TREES.items() if not name.startswith("flagcore_m3")
              for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value == key]
    assert namers == []


def test_no_function_in_product_code_is_over_60_lines():
    long = [f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for name, tree in TREES.items() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []
