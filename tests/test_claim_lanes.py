"""Claims stay in their lane: a plugin's claim counts only for a model class id that plugin registered. And the plugin
guide (docs/writing-a-plugin.md) documents exactly what ``flagcore.family`` exports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fakes import OneClassPlugin

import flagcore
import flagcore.family
from flagcore import FlagAutoModel, PluginNotInstalledError, PluginWarning, explain, plugin_registered, resolve
from flagcore.cli import main
from flagcore.known_models import KNOWN_MODELS

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-a-plugin.md"
FIRST_PARTY = {"bge", "m3", "llm", "icl", "layerwise"}


def catch_all(score: int = 399) -> OneClassPlugin:
    """The issue's plugin: claims every model for the encoder family's id, with mean pooling."""
    return OneClassPlugin("outsider", "encoder-only-base", score, {"pooling_method": "mean"})


def messages(caught) -> str:
    return "\n".join(str(w.message) for w in caught)


# -- a claim for another plugin's id ------------------------------------------------------------------------------

def test_a_catch_all_claim_for_a_first_party_id_changes_nothing(only_bge, tiny_models):
    path = str(tiny_models["tiny-bert"])
    with plugin_registered(catch_all()):
        with pytest.warns(PluginWarning) as caught:
            chosen = resolve(path, "embedder")
        text = messages(caught)
        assert "'outsider''s registration is refused" in text  # the registry's refusal, as before
        assert re.search(r"plugin 'outsider' .*claimed 'tiny-bert' for embedder class 'encoder-only-base', which "
                         r"belongs to 'bge' \(distribution flagcore-bge .*the claim is dropped, not scored; its "
                         r"defaults \{'pooling_method': 'mean'\} are not applied", text)
        assert (chosen.model_class, chosen.entry.plugin, chosen.claim.plugin, chosen.rule) == (
            "encoder-only-base", "bge", "bge", "score")
        assert "pooling_method" not in chosen.defaults and chosen.claim.score == 210
        dropped = [c for c in chosen.claims if c.dropped]
        assert [(c.plugin, c.score, dict(c.defaults)) for c in dropped] == [
            ("outsider", 399, {"pooling_method": "mean"})]
        assert "belongs to plugin 'bge'" in dropped[0].dropped and "not to 'outsider'" in dropped[0].dropped

        with pytest.warns(PluginWarning, match="'outsider'.*'encoder-only-base'.*belongs to 'bge'"):
            model = FlagAutoModel.from_finetuned(path, devices="cpu")
        assert model.pooling_method == "cls"


def test_explain_lists_the_dropped_claim_with_why_and_the_real_winner(only_bge, tiny_models, capsys):
    path = str(tiny_models["tiny-bert"])
    with plugin_registered(catch_all()), pytest.warns(PluginWarning):
        claims = explain(path)
        assert main(["explain", path]) == 0
    assert [(c.plugin, c.model_class, c.score, bool(c.dropped)) for c in claims] == [
        ("outsider", "encoder-only-base", 399, True), ("bge", "encoder-only-base", 210, False)]
    assert claims[0].reason.startswith("DROPPED, not scored: embedder class 'encoder-only-base' belongs to plugin "
                                       "'bge'")
    assert claims[0].reason.endswith("Its reason: outsider claims it")
    out = capsys.readouterr().out
    assert "DROPPED, not scored" in out and "outsider" in out
    assert re.search(r"Result: encoder-only-base \(flagcore_bge\.embedder:EncoderEmbedder\) from plugin 'bge', by "
                     r"highest score: encoder config", out)


def test_a_dropped_claim_is_no_candidate_for_any_rule(only_bge, tiny_models):
    path = str(tiny_models["tiny-bert"])
    with plugin_registered(catch_all()), pytest.warns(PluginWarning):
        preferred = resolve(path, "embedder", prefer_plugin="outsider")  # it has no claim that counts
        explicit = resolve(path, "embedder", model_class="encoder-only-base")
        named = resolve("BAAI/bge-small-en-v1.5", "embedder")
    assert (preferred.rule, preferred.claim.plugin) == ("score", "bge")
    assert (explicit.rule, explicit.claim.plugin) == ("model_class", "bge")
    assert "pooling_method" not in explicit.defaults
    assert (named.rule, named.claim.plugin, named.defaults["pooling_method"]) == ("name table", "bge", "cls")


def test_with_only_dropped_claims_the_model_is_unknown_and_the_message_says_why(only_bge):
    with plugin_registered(catch_all()), pytest.warns(PluginWarning):
        with pytest.raises(flagcore.UnknownModelError, match="Plugin 'outsider''s claim was dropped: embedder class "
                                                             "'encoder-only-base' belongs to plugin 'bge'"):
            resolve("someone/not-a-known-name", "embedder")


def test_between_in_process_plugins_the_owner_keeps_its_defaults(no_installed_plugins):
    owner = OneClassPlugin("owner", "shared-class", 150, {"pooling_method": "cls"})
    # registers nothing itself, claims the owner's id higher with other defaults
    rider = OneClassPlugin("rider", "shared-class", 350, {"pooling_method": "mean"}, register=False)
    with plugin_registered(owner), plugin_registered(rider):
        with pytest.warns(PluginWarning, match="'rider'.*'shared-class', which belongs to 'owner' "
                                               r"\(registered in-process\)"):
            chosen = resolve("anything", "embedder")
    assert (chosen.claim.plugin, chosen.defaults) == ("owner", {"pooling_method": "cls"})
    assert [(c.plugin, bool(c.dropped)) for c in chosen.claims] == [("rider", True), ("owner", False)]


# -- claims that stay in their lane -------------------------------------------------------------------------------

def test_a_plugin_claiming_its_own_id_still_wins_where_it_should(only_bge, tiny_models):
    mine = OneClassPlugin("mine", "my-encoder", 299, {"pooling_method": "mean"})
    with plugin_registered(mine):  # no PluginWarning: they are errors in this test session
        chosen = resolve(str(tiny_models["tiny-bert"]), "embedder")
        assert (chosen.model_class, chosen.claim.plugin, chosen.rule) == ("my-encoder", "mine", "score")
        assert chosen.defaults == {"pooling_method": "mean"}
        assert not any(c.dropped for c in chosen.claims)
        # ... and loses a FlagEmbedding name unless preferred
        assert resolve("BAAI/bge-small-en-v1.5", "embedder").claim.plugin == "bge"
        assert resolve("BAAI/bge-small-en-v1.5", "embedder", prefer_plugin="mine").claim.plugin == "mine"


def test_a_claim_for_an_id_nobody_registered_is_ignored_as_before(fake_family):
    ghost = OneClassPlugin("ghost", "ghost-embedder", 399, {"pooling_method": "mean"}, register=False)
    with plugin_registered(ghost):
        with pytest.warns(PluginWarning, match="'ghost' claimed 'fake-x' for embedder class 'ghost-embedder', which no "
                                               "plugin registered; ignoring the claim"):
            claims = explain("fake-x")
    assert [(c.plugin, c.model_class, c.dropped) for c in claims] == [("fake-family", "fake-embedder", "")]


@pytest.mark.parametrize("kind", ["embedder", "reranker"])
def test_first_party_families_claim_only_their_own_ids(kind):
    """Every name of FlagEmbedding's tables, with every installed family loaded: no claim is dropped (a
    PluginWarning would fail the test), and the winner is the owner's claim."""
    for name in sorted(KNOWN_MODELS[kind]):
        try:
            chosen = resolve(name, kind)
        except PluginNotInstalledError:
            continue
        assert chosen.claim.plugin == chosen.entry.plugin, name
        assert not any(c.dropped for c in chosen.claims), name


@pytest.mark.parametrize("role, kind, model_class", [
    ("tiny-bert", "embedder", "encoder-only-base"),
    ("tiny-xlmr", "embedder", "encoder-only-base"),
    ("tiny-m3", "embedder", "encoder-only-m3"),
    ("tiny-bert-reranker", "reranker", "encoder-only-base"),
])
def test_first_party_folder_claims_stay_in_their_lanes(tiny_models, role, kind, model_class):
    chosen = resolve(str(tiny_models[role]), kind)
    assert chosen.model_class == model_class and chosen.claim.plugin == chosen.entry.plugin
    assert all(not c.dropped and c.plugin in FIRST_PARTY for c in chosen.claims)
    if role == "tiny-m3":  # the encoder family's own claim on an M3 folder is for its own id, and loses
        assert [(c.plugin, c.model_class) for c in chosen.claims] == [
            ("m3", "encoder-only-m3"), ("bge", "encoder-only-base")]


# -- the guide matches flagcore.family ----------------------------------------------------------------------------

def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.S | re.M)


def guide_imports(module: str) -> set[str]:
    """The names the guide's Python examples import from ``module``."""
    names = set()
    for block in guide_blocks("python"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module == module:
                names |= {alias.name for alias in node.names}
    return names


def guide_table(first_header: str) -> list[list[str]]:
    """The rows (cells) of the guide's table whose header row starts with ``first_header``."""
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |")), None)
    assert start is not None, f"{GUIDE.name} has no table whose first column is {first_header!r}"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def public_names_table() -> set[str]:
    """Every name in the "names" column of the guide's table of public names (a signature counts as its name)."""
    return {re.match(r"\w+", span).group() for _, names in guide_table("need")
            for span in re.findall(r"`([^`]+)`", names)}


def test_the_guide_lists_every_public_name_and_only_those():
    listed, exported = public_names_table(), set(flagcore.family.__all__)
    assert not listed - exported, f"the guide lists names flagcore.family does not export: {sorted(listed - exported)}"
    assert not exported - listed, f"flagcore.family exports names the guide does not list: {sorted(exported - listed)}"


def test_the_guide_examples_import_only_listed_public_names():
    imported = guide_imports("flagcore.family")
    assert {"load_pretrained", "pool", "check_pooling"} <= imported
    assert not imported - set(flagcore.family.__all__), sorted(imported - set(flagcore.family.__all__))
    assert not imported - public_names_table(), sorted(imported - public_names_table())
    assert not guide_imports("flagcore") - set(flagcore.__all__)


def test_the_guide_pooling_table_is_what_pool_computes():
    rows = {row[0].strip("`"): row[2] for row in guide_table("method")}
    assert tuple(rows) == flagcore.family.ALL_POOLING_MODES
    assert tuple(m for m, in_flag in rows.items() if in_flag == "yes") == flagcore.family.POOLING_METHODS
    assert flagcore.family.POOLING_METHODS == tuple(m.value for m in flagcore.family.PoolingMethod)


def skeleton_pooling_modes() -> tuple[set[str], set[str]]:
    """(the modes the guide's example class declares, the modes its claims and constructor default to)."""
    declared, used = set(), set()
    for block in guide_blocks("python"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Assign) and any("POOLING" in getattr(t, "id", "") for t in node.targets):
                declared |= set(ast.literal_eval(node.value))
            elif isinstance(node, ast.keyword) and node.arg == "pooling_methods" and isinstance(node.value, ast.Tuple):
                declared |= set(ast.literal_eval(node.value))
            elif isinstance(node, ast.Dict):
                used |= {v.value for k, v in zip(node.keys, node.values, strict=True)
                         if isinstance(k, ast.Constant) and k.value == "pooling_method" and isinstance(v, ast.Constant)}
            elif isinstance(node, ast.arguments) and node.defaults:
                defaults = dict(zip([a.arg for a in node.args][-len(node.defaults):], node.defaults, strict=True))
                if isinstance(defaults.get("pooling_method"), ast.Constant):
                    used.add(defaults["pooling_method"].value)
    return declared, used


def test_the_guide_skeleton_pools_only_by_modes_pool_accepts():
    import torch

    declared, used = skeleton_pooling_modes()
    assert declared and used and used <= declared, (declared, used)
    hidden, mask = torch.randn(2, 4, 3), torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    for mode in declared:
        assert mode in flagcore.family.ALL_POOLING_MODES
        assert flagcore.family.pool(hidden, mask, mode).shape == (2, 3)
        assert flagcore.family.check_pooling(mode, tuple(declared), "my-encoder") == mode
