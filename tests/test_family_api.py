"""Families build only on the public API: ``flagcore`` and ``flagcore.family``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import flagcore.family

ROOT = Path(__file__).resolve().parent.parent
#: flagcore.cli is the public surface of the command for add-ons that extend it (flagcore-ray's --ray);
#: flagcore.integration that of the framework adapters (LangChain, LlamaIndex, Haystack, MTEB)
PUBLIC_MODULES = {"flagcore", "flagcore.family", "flagcore.cli", "flagcore.integration"}
FAMILY_SOURCES = sorted(p for p in (ROOT / "plugins").glob("*/flagcore_*/*.py"))


def is_module(package: str, name: str) -> bool:
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").exists() or (folder / name / "__init__.py").exists()


def flagcore_imports(path: Path) -> set[str]:
    """Every flagcore module a file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "flagcore"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "flagcore":
            found.add(node.module)
            # "from flagcore import loading" imports a private module too
            found |= {f"{node.module}.{alias.name}" for alias in node.names if is_module(node.module, alias.name)}
    return found


def test_there_are_family_sources_to_check():
    families = {p.parent.parent.name for p in FAMILY_SOURCES}
    assert {"bge", "m3"} <= families


@pytest.mark.parametrize("path", FAMILY_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_first_party_families_import_only_the_public_modules(path):
    private = flagcore_imports(path) - PUBLIC_MODULES
    assert not private, f"{path.relative_to(ROOT)} imports {sorted(private)}; use flagcore.family instead"


def test_the_import_check_sees_a_private_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from flagcore.loading import load_tokenizer\n    import flagcore.pooling\n"
                      "from flagcore import engine, family, AbsEmbedder\n")
    assert flagcore_imports(sneaky) - PUBLIC_MODULES == {"flagcore.loading", "flagcore.pooling", "flagcore.engine"}


def test_every_family_has_the_same_shape():
    # a family registers in the "flagcore" entry-point group (plugins/serve adds a command instead)
    for family in sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml")
                         if "[project.entry-points.flagcore]" in p.read_text()):
        package = next((ROOT / "plugins" / family).glob("flagcore_*"))
        assert {"__init__.py", "plugin.py", "claims.py"} <= {p.name for p in package.glob("*.py")}, family


def test_the_family_api_exports_what_it_lists_and_is_light():
    assert all(hasattr(flagcore.family, name) for name in flagcore.family.__all__)
    code = "import sys, flagcore.family; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
