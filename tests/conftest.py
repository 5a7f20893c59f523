from __future__ import annotations

import os

# The tests never need the network (this machine has none): set before transformers or huggingface_hub is
# imported, so that a hub id found in a local cache loads at once instead of after connection retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from flagcore.plugins import LOAD_PLUGINS_ENV, host  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_plugin_host():
    """Every test starts from a plugin host that has not read the entry points yet."""
    host.reset()
    yield
    host.reset()


@pytest.fixture
def no_installed_plugins(monkeypatch):
    """Only in-process plugins: installed families must not change what a core test sees."""
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "")
    host.reset()


@pytest.fixture
def fake_family(no_installed_plugins):
    from fakes import FakeFamily

    from flagcore import plugin_registered

    with plugin_registered(FakeFamily()) as name:
        yield name


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """The deterministic tiny BERT / XLM-R models of tests/parity/tiny_models.py, plus the real MiniLM."""
    from parity.tiny_models import build, minilm_dir

    models = build(tmp_path_factory.mktemp("tiny-models"))
    models["minilm"] = minilm_dir()
    return models


@pytest.fixture
def only_bge(monkeypatch):
    """Only the encoder-only family loads, as on a machine where flagcore[bge] alone is installed."""
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge")
    host.reset()


@pytest.fixture
def hang_deadline():
    """Fail instead of hanging: a test using this must finish within two minutes (SIGALRM, main thread)."""
    import signal

    def expire(signum, frame):
        raise TimeoutError("the test hung (two-minute deadline)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def embedder():
    """The fake embedder of tests/fakes.py on the CPU (mean pooling)."""
    from fakes import FakeEmbedder

    return FakeEmbedder("fake-model", devices="cpu", pooling_method="mean")


@pytest.fixture
def reranker():
    """The fake reranker of tests/fakes.py on the CPU."""
    from fakes import FakeReranker

    return FakeReranker("fake-model", devices="cpu")
