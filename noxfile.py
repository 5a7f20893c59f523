"""Sessions: ``nox -s tests`` (the whole suite) and ``nox -s lint`` (ruff)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# Installed first, on its own: a plain "torch" requirement resolved by pip would pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"


def family_plugins() -> list[str]:
    return [str(p.parent) for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))]


@nox.session
def tests(session: nox.Session) -> None:
    session.install(TORCH)
    editable = [arg for path in family_plugins() for arg in ("-e", path)]
    session.install("-e", ".[test]", *editable)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "flagcore", "plugins", "tests", "noxfile.py")
