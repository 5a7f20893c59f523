"""The precedence rule: the same winner whatever the install order and the distribution names."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from flagcore import (
    FlagAutoModel,
    ModelClassImportError,
    PluginContractError,
    PluginWarning,
    hookimpl,
    list_plugins,
    plugin_registered,
    register_plugin,
    resolve,
)
from flagcore.plugins import LOAD_PLUGINS_ENV, host
from flagcore.resolve import PREFER_PLUGINS_ENV

PLUGIN_MODULE = '''
from flagcore.family import Claim, hookimpl


@hookimpl
def register_model_classes(register):
    register.add_embedder({model_class!r}, {target!r})


@hookimpl
def claim_embedder(probe):
    return Claim({model_class!r}, {score}, "{entry_point} claims every model")
'''

_modules = itertools.count()


def install(site: Path, *, distribution: str, entry_point: str, model_class: str, score: int = 399,
            target: str = "fakes:FakeEmbedder") -> None:
    """Write an installed-looking distribution (dist-info + module) into ``site``."""
    module = f"plugin_{entry_point}_{distribution.replace('-', '_')}_{next(_modules)}"  # fresh in sys.modules
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(PLUGIN_MODULE.format(
        model_class=model_class, target=target, score=score, entry_point=entry_point))
    info = site / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(textwrap.dedent(f"""\
        Metadata-Version: 2.1
        Name: {distribution}
        Version: 1.0
        Summary: {entry_point} test plugin
        """))
    (info / "entry_points.txt").write_text(f"[flagcore]\n{entry_point} = {module}\n")


def activate(monkeypatch, sites: list[Path], load: str) -> None:
    """Put the sites on sys.path in this order (earlier = found first, like an earlier install location)."""
    for site in reversed(sites):
        monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(LOAD_PLUGINS_ENV, load)
    monkeypatch.delenv(PREFER_PLUGINS_ENV, raising=False)
    host.reset()


ORDERS = pytest.mark.parametrize("first_found", ["alpha", "beta"])
NAMES = pytest.mark.parametrize("alpha_dist, beta_dist", [("aaa-plugin", "zzz-plugin"), ("zzz-plugin", "aaa-plugin")])


@ORDERS
@NAMES
def test_two_outside_plugins_registering_one_id_have_the_same_winner_in_every_order(
        tmp_path, monkeypatch, first_found, alpha_dist, beta_dist):
    sites = {"alpha": tmp_path / "site-a", "beta": tmp_path / "site-b"}
    install(sites["alpha"], distribution=alpha_dist, entry_point="alpha", model_class="shared-embedder", score=250)
    install(sites["beta"], distribution=beta_dist, entry_point="beta", model_class="shared-embedder", score=250)
    order = [sites[first_found], sites["beta" if first_found == "alpha" else "alpha"]]
    activate(monkeypatch, order, "alpha,beta")
    with pytest.warns(PluginWarning, match=rf"'shared-embedder' is registered by both plugin 'alpha' \(distribution "
                                           rf"{alpha_dist} 1.0\) and plugin 'beta' \(distribution {beta_dist} 1.0\)"):
        entry = host.registry.get("embedder", "shared-embedder")
    assert entry.plugin == "alpha"
    assert [info.name for info in list_plugins()] == ["alpha", "beta"]


@ORDERS
@NAMES
def test_an_outside_plugin_cannot_take_a_first_party_id_or_name(
        tmp_path, monkeypatch, first_found, alpha_dist, beta_dist):
    # "aaa" sorts before "bge" and claims every model at the top score; it still loses the id and the names
    sites = {"alpha": tmp_path / "site-a", "beta": tmp_path / "site-b"}
    install(sites["alpha"], distribution=alpha_dist, entry_point="aaa", model_class="encoder-only-base")
    install(sites["beta"], distribution=beta_dist, entry_point="zzz", model_class="greedy-embedder")
    order = [sites[first_found], sites["beta" if first_found == "alpha" else "alpha"]]
    activate(monkeypatch, order, "bge,aaa,zzz")
    with pytest.warns(PluginWarning, match=r"belongs to 'bge'.*'aaa''s registration is refused"):
        chosen = resolve("BAAI/bge-small-en-v1.5", "embedder")
    assert (chosen.model_class, chosen.entry.plugin, chosen.rule) == ("encoder-only-base", "bge", "name table")
    assert chosen.claim.plugin == "bge" and chosen.defaults == {"pooling_method": "cls",
                                                                 "query_instruction_format": "{}{}"}
    assert {(c.plugin, c.score) for c in chosen.claims[:2]} == {("aaa", 399), ("zzz", 399)}  # both claimed, and lost
    assert [info.name for info in list_plugins()][:1] == ["bge"]


def test_a_preferred_plugin_overrides_the_name_table_and_model_class_beats_it(tmp_path, monkeypatch):
    install(tmp_path / "site", distribution="my-greedy", entry_point="greedy", model_class="greedy-embedder",
            score=150)
    activate(monkeypatch, [tmp_path / "site"], "bge,greedy")
    assert resolve("BAAI/bge-small-en-v1.5", "embedder").entry.plugin == "bge"
    preferred = resolve("BAAI/bge-small-en-v1.5", "embedder", prefer_plugin="greedy")
    assert (preferred.model_class, preferred.rule) == ("greedy-embedder", "preferred plugin")
    monkeypatch.setenv(PREFER_PLUGINS_ENV, "greedy")
    assert resolve("BAAI/bge-small-en-v1.5", "embedder").model_class == "greedy-embedder"
    forced = resolve("BAAI/bge-small-en-v1.5", "embedder", model_class="encoder-only-base")
    assert (forced.model_class, forced.rule) == ("encoder-only-base", "model_class")
    with pytest.raises(ValueError, match="prefer_plugin names \\['nobody'\\].*loaded: \\['bge', 'greedy'\\]"):
        resolve("BAAI/bge-small-en-v1.5", "embedder", prefer_plugin="nobody")
    monkeypatch.setenv(PREFER_PLUGINS_ENV, "nobody")
    with pytest.warns(PluginWarning, match="FLAGCORE_PREFER_PLUGINS names \\['nobody'\\]"):
        assert resolve("BAAI/bge-small-en-v1.5", "embedder").entry.plugin == "bge"


def test_off_the_name_table_the_highest_score_wins(tmp_path, monkeypatch, tiny_models):
    install(tmp_path / "site", distribution="my-greedy", entry_point="greedy", model_class="greedy-embedder",
            score=299)
    activate(monkeypatch, [tmp_path / "site"], "bge,greedy")
    chosen = resolve(tiny_models["tiny-bert"], "embedder")
    assert (chosen.model_class, chosen.rule) == ("greedy-embedder", "score")
    assert [c.plugin for c in chosen.claims] == ["greedy", "bge"]


def test_a_known_name_whose_family_is_missing_is_an_install_hint_even_when_another_plugin_claims_it(
        tmp_path, monkeypatch):
    install(tmp_path / "site", distribution="my-greedy", entry_point="greedy", model_class="greedy-embedder")
    activate(monkeypatch, [tmp_path / "site"], "greedy")
    from flagcore import PluginNotInstalledError

    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[m3\].*prefer_plugin='greedy'"):
        resolve("BAAI/bge-m3", "embedder")


# -- the hook contract --------------------------------------------------------------------------------------------

class Wrapper:
    __name__ = "wrapper"

    @hookimpl(wrapper=True)
    def claim_embedder(self, probe):
        return (yield)


class OldStyleWrapper:
    __name__ = "old-style-wrapper"

    @hookimpl(hookwrapper=True)
    def claim_embedder(self, probe):
        yield


class FirstInLine:
    __name__ = "first-in-line"

    @hookimpl(tryfirst=True)
    def claim_embedder(self, probe):
        return None


@pytest.mark.parametrize("plugin, option", [(Wrapper(), "wrapper=True"), (OldStyleWrapper(), "hookwrapper=True"),
                                            (FirstInLine(), "tryfirst=True")])
def test_hook_wrappers_and_ordering_options_are_refused_at_registration(no_installed_plugins, plugin, option):
    with pytest.raises(PluginContractError, match=rf"'{plugin.__name__}' \(registered in-process\) declares "
                                                  rf"claim_embedder with {option}.*plain @hookimpl"):
        register_plugin(plugin)
    assert list_plugins() == []


def test_an_installed_wrapper_plugin_is_skipped_with_a_warning(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install(site, distribution="good-plugin", entry_point="good", model_class="good-embedder")
    install(site, distribution="wrapping-plugin", entry_point="wrapping", model_class="w-embedder")
    module = next(site.glob("plugin_wrapping_wrapping_plugin_*.py"))
    source = module.read_text().replace("@hookimpl\ndef claim", "@hookimpl(wrapper=True)\ndef claim")
    module.write_text(source.replace("    return Claim(", "    yield\n    return Claim("))  # a generator
    activate(monkeypatch, [site], "good,wrapping")
    with pytest.warns(PluginWarning, match=r"'wrapping' \(distribution wrapping-plugin 1.0\) declares claim_embedder "
                                           r"with wrapper=True.*continuing without it"):
        assert [info.name for info in list_plugins()] == ["good"]


class NoName:
    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("no-name-embedder", FakeEmbedder)


def test_in_process_plugins_get_readable_names(no_installed_plugins):
    with plugin_registered(NoName()) as name:
        assert name == "test_precedence.NoName"
        assert list_plugins()[0].name == "test_precedence.NoName"
        with pytest.raises(ValueError, match="'test_precedence.NoName' is already registered; pass another name="):
            register_plugin(NoName())
        with plugin_registered(NoName(), name="second-copy"), pytest.warns(PluginWarning, match="refused"):
            assert [i.name for i in list_plugins()] == ["test_precedence.NoName", "second-copy"]
    module = type(sys)("my_module_plugin")
    with plugin_registered(module) as name:
        assert name == "my_module_plugin"


def test_a_class_reference_that_fails_to_import_names_the_plugin_distribution_and_reference(tmp_path, monkeypatch):
    install(tmp_path / "site", distribution="gone-plugin", entry_point="gone", model_class="gone-embedder",
            target="no_such_module_anywhere:GoneEmbedder")
    activate(monkeypatch, [tmp_path / "site"], "gone")
    with pytest.raises(ModelClassImportError, match=r"plugin 'gone' \(distribution gone-plugin 1.0\) registered "
                                                    r"embedder 'gone-embedder' as 'no_such_module_anywhere:"
                                                    r"GoneEmbedder', which cannot be imported: ModuleNotFoundError"):
        FlagAutoModel.from_finetuned("any-model", devices="cpu")
