from __future__ import annotations

import pytest

from flagcore.plugins import LOAD_PLUGINS_ENV, host


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
