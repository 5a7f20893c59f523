from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from fakes import FakeEmbedder, FakeFamily

from flagcore import (
    Claim,
    Evidence,
    PluginContractError,
    PluginWarning,
    explain,
    hookimpl,
    list_plugins,
    plugin_registered,
)
from flagcore.plugins import LOAD_PLUGINS_ENV, host, register_plugin, unregister_plugin

SITE = Path(__file__).parent / "fixtures" / "site_plugins"


@pytest.fixture
def plugin_site(monkeypatch):
    """Put two installed-looking distributions (dist-info + module) on sys.path."""
    monkeypatch.syspath_prepend(str(SITE))
    monkeypatch.delenv(LOAD_PLUGINS_ENV, raising=False)
    for module in ("flagcore_demo_plugin", "flagcore_demo_heavy", "flagcore_broken_plugin"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    host.reset()


def names(infos):
    return {i.name for i in infos}


def test_entry_point_discovery_and_broken_plugin_isolation(plugin_site):
    with pytest.warns(PluginWarning) as caught:
        infos = list_plugins()
    broken = [str(w.message) for w in caught if "broken" in str(w.message)]
    assert broken and "flagcore-broken-plugin" in broken[0] and "0.0.1" in broken[0]
    assert "failed to import" in broken[0]
    demo = next(i for i in infos if i.name == "demo")
    assert (demo.distribution, demo.version, demo.embedders, demo.rerankers) == (
        "flagcore-demo-plugin", "1.2.3", ("demo-embedder",), ())
    assert "broken" not in names(infos)
    # resolution carries on with the plugins that did load
    assert [c.model_class for c in explain("demo-model")] == ["demo-embedder"]


@pytest.mark.parametrize("selection", ["demo", "flagcore-demo-plugin", " demo , "])
def test_env_var_selects_plugins_by_entry_point_or_distribution(plugin_site, monkeypatch, selection):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, selection)
    host.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broken plugin is not even imported
        assert names(list_plugins()) == {"demo"}
    assert "flagcore_broken_plugin" not in sys.modules


def test_empty_env_var_loads_no_installed_plugin(plugin_site, monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "")
    host.reset()
    assert list_plugins() == []
    assert explain("demo-model") == []


def test_env_var_naming_an_unknown_plugin_warns(plugin_site, monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "demo,nonexistent")
    host.reset()
    with pytest.warns(PluginWarning, match="nonexistent"):
        assert names(list_plugins()) == {"demo"}


def test_registering_a_plugin_in_process_and_removing_it(no_installed_plugins):
    assert list_plugins() == []
    family = FakeFamily()
    name = register_plugin(family)
    assert name == "fake-family"
    info = list_plugins()[0]
    assert (info.name, info.distribution, info.embedders, info.rerankers) == (
        "fake-family", "(in-process)", ("fake-embedder",), ("fake-reranker",))
    assert explain("fake-x")[0].model_class == "fake-embedder"
    with pytest.raises(ValueError, match="already registered"):
        register_plugin(FakeFamily())
    unregister_plugin(name)
    assert list_plugins() == [] and explain("fake-x") == []
    with pytest.raises(ValueError, match="no flagcore plugin"):
        unregister_plugin(name)


def test_plugin_registered_context_manager_unregisters_on_error(no_installed_plugins):
    with pytest.raises(RuntimeError), plugin_registered(FakeFamily()):
        assert names(list_plugins()) == {"fake-family"}
        raise RuntimeError("boom")
    assert list_plugins() == []


class RaisingClaims:
    __name__ = "raising"

    @hookimpl
    def claim_embedder(self, probe):
        raise KeyError("bad lookup")

    @hookimpl
    def claim_reranker(self, probe):
        raise KeyError("bad lookup")


class FailingRegistration:
    __name__ = "failing-registration"

    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("half-registered", FakeEmbedder)
        raise RuntimeError("crashed half-way")


@pytest.mark.parametrize("kind", ["embedder", "reranker"])
def test_a_raising_claim_hook_warns_and_the_others_still_answer(fake_family, kind):
    with plugin_registered(RaisingClaims()):
        with pytest.warns(PluginWarning, match=rf"'raising'.*claim_{kind}.*KeyError"):
            claims = explain("fake-model", kind=kind)
    assert [c.plugin for c in claims] == ["fake-family"]


def test_a_failing_registration_adds_nothing(fake_family):
    with plugin_registered(FailingRegistration()):
        with pytest.warns(PluginWarning, match="crashed half-way"):
            infos = {i.name: i for i in list_plugins()}
    assert infos["failing-registration"].embedders == ()
    assert infos["fake-family"].embedders == ("fake-embedder",)


class Typo:
    __name__ = "typo"

    @hookimpl
    def claim_embeder(self, probe):  # no such hook
        return None


def test_a_hook_with_no_spec_is_refused(no_installed_plugins):
    with pytest.raises(PluginContractError, match=r"'typo' \(registered in-process\) cannot be registered.*"
                       r"claim_embeder"):
        register_plugin(Typo())
    assert list_plugins() == []


class SecondFakeFamily:
    __name__ = "second"

    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("fake-embedder", FakeEmbedder)


def test_duplicate_model_class_id_keeps_the_first_and_warns(fake_family):
    with plugin_registered(SecondFakeFamily()):
        with pytest.warns(PluginWarning, match=r"registered by both plugin 'fake-family' \(registered in-process\) "
                                               r"and plugin 'second' .*'second''s registration is refused"):
            infos = {i.name: i for i in list_plugins()}
    assert infos["second"].embedders == ()


class WrongAnswer:
    __name__ = "wrong-answer"

    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("wrong", FakeEmbedder)

    @hookimpl
    def claim_embedder(self, probe):
        return "wrong"


class ClaimsUnregistered:
    __name__ = "claims-unregistered"

    @hookimpl
    def claim_embedder(self, probe):
        return Claim("nobody-registered-this", Evidence.NAME, "always")


def test_malformed_claims_are_ignored_with_a_warning(fake_family):
    with plugin_registered(WrongAnswer()), plugin_registered(ClaimsUnregistered()):
        with pytest.warns(PluginWarning) as caught:
            claims = explain("fake-model")
    messages = " ".join(str(w.message) for w in caught)
    assert "must return a Claim" in messages and "nobody-registered-this" in messages
    assert [c.model_class for c in claims] == ["fake-embedder"]


def test_registrar_rejects_bad_targets():
    from flagcore.registry import ModelClassRegistrar

    registrar = ModelClassRegistrar("p")
    with pytest.raises(TypeError, match="module:Class"):
        registrar.add_embedder("x", "no_colon_here")
    with pytest.raises(ValueError, match="non-empty"):
        registrar.add_reranker("", FakeEmbedder)
