from __future__ import annotations

import json

import pytest
from fakes import OneClassPlugin as Scored

from flagcore import (
    AmbiguousModelError,
    Claim,
    EmbedderModelClass,
    Evidence,
    PluginNotInstalledError,
    UnknownModelClassError,
    UnknownModelError,
    explain,
    plugin_registered,
    resolve,
)


def test_highest_score_wins_whatever_the_registration_order(no_installed_plugins):
    for order in ([("low", 150), ("high", 250)], [("high", 250), ("low", 150)]):
        plugins = [Scored(name, f"class-{name}", score) for name, score in order]
        with plugin_registered(plugins[0]), plugin_registered(plugins[1]):
            chosen = resolve("anything", "embedder")
            assert chosen.model_class == "class-high"
            assert [c.model_class for c in chosen.claims] == ["class-high", "class-low"]


def test_tie_between_different_classes_is_an_error_naming_both(no_installed_plugins):
    with plugin_registered(Scored("a", "class-a", 250)), plugin_registered(Scored("b", "class-b", 250)):
        with pytest.raises(AmbiguousModelError) as info:
            resolve("anything", "embedder")
    message = str(info.value)
    assert "'class-a'" in message and "'class-b'" in message and "model_class=" in message


def test_tie_on_the_same_class_is_not_an_error(no_installed_plugins):
    with plugin_registered(Scored("a", "class-a", 250)), plugin_registered(Scored("b", "class-x", 250, register=False)):
        # b's claim names a class nobody registered: dropped with a warning, no tie remains
        with pytest.warns(UserWarning, match="no plugin registered"):
            assert resolve("anything", "embedder").model_class == "class-a"


def test_unknown_model_error_says_what_was_looked_at(fake_family, tmp_path):
    model = tmp_path / "mystery-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "mystery", "architectures": ["MysteryModel"]}))
    with pytest.raises(UnknownModelError) as info:
        resolve(str(model), "embedder")
    message = str(info.value)
    for expected in ("mystery-model", "model_type='mystery'", "MysteryModel", "config.json", "model_class=",
                     "fake-embedder"):
        assert expected in message
    assert isinstance(info.value, ValueError)


def test_known_name_of_a_missing_family_names_the_extra(no_installed_plugins):
    with pytest.raises(PluginNotInstalledError, match=r"pip install 'flagcore\[m3\]'"):
        resolve("BAAI/bge-m3", "embedder")
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[layerwise\]"):
        resolve("bge-reranker-v2-minicpm-layerwise", "reranker")
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[bge\]"):
        resolve("/x/bge-small-en-v1.5/checkpoint-9", "embedder")


def test_missing_family_is_not_papered_over_by_a_weaker_claim(no_installed_plugins):
    generic = Scored("generic", "generic-encoder", Evidence.ARCHITECTURE)
    with plugin_registered(generic):
        with pytest.raises(PluginNotInstalledError) as info:
            resolve("bge-m3", "embedder")
        assert "flagcore[m3]" in str(info.value) and "model_class='generic-encoder'" in str(info.value)
        # ... but an explicit choice is honoured
        assert resolve("bge-m3", "embedder", model_class="generic-encoder").model_class == "generic-encoder"
        # and a name the core does not know falls to the generic claim
        assert resolve("my-own-model", "embedder").model_class == "generic-encoder"


def test_explicit_model_class_beats_every_claim_and_keeps_only_its_own_defaults(no_installed_plugins):
    name_claim = Scored("named", "named-class", Evidence.NAME, {"pooling_method": "mean"})
    other = Scored("other", "other-class", Evidence.FALLBACK, {"pooling_method": "last_token"})
    with plugin_registered(name_claim), plugin_registered(other):
        chosen = resolve("x", "embedder", model_class="other-class")
        assert chosen.model_class == "other-class" and chosen.defaults == {"pooling_method": "last_token"}
        chosen = resolve("x", "embedder", model_class="named-class")
        assert chosen.defaults == {"pooling_method": "mean"}


def test_explicit_model_class_accepts_enum_members_and_ids(no_installed_plugins):
    with plugin_registered(Scored("bge-like", "encoder-only-base", Evidence.FALLBACK)):
        assert resolve("x", "embedder", model_class=EmbedderModelClass.ENCODER_ONLY_BASE).model_class == (
            "encoder-only-base")
        assert resolve("x", "embedder", model_class="encoder-only-base").model_class == "encoder-only-base"
        with pytest.raises(UnknownModelClassError, match="Did you mean 'encoder-only-base'"):
            resolve("x", "embedder", model_class="encoder_only_base")


def test_explicit_first_party_class_without_its_family_names_the_extra(no_installed_plugins):
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[m3\]"):
        resolve("x", "embedder", model_class=EmbedderModelClass.ENCODER_ONLY_M3)
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[llm\]"):
        resolve("x", "reranker", model_class="decoder-only-base")


def test_explicit_model_class_with_a_bad_type_is_a_type_error(no_installed_plugins):
    with pytest.raises(TypeError, match="model_class"):
        resolve("x", "embedder", model_class=3)  # type: ignore[arg-type]


def test_explain_lists_every_claim_in_score_order(fake_family, tmp_path):
    model = tmp_path / "fake-dir"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "fakebert"}))
    with plugin_registered(Scored("fallback", "fallback-class", Evidence.FALLBACK + 1)):
        claims = explain(str(model))
    assert [(c.model_class, c.evidence, c.plugin) for c in claims] == [
        ("fake-embedder", "name", "fake-family"),
        ("fallback-class", "fallback", "fallback"),
    ]
    assert claims[0].defaults == {"pooling_method": "mean"}
    assert claims[0].reason == "name starts with 'fake-'"


def test_explain_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="'embedder' or 'reranker'"):
        explain("x", kind="classifier")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"score": 500}, {"score": -1}, {"reason": " "}, {"model_class": ""}])
def test_claim_validates_its_fields(bad):
    fields = {"model_class": "c", "score": 100, "reason": "r", **bad}
    with pytest.raises(ValueError):
        Claim(**fields)


def test_claim_evidence_bands():
    assert Claim("c", Evidence.NAME + 10, "r").evidence == "name"
    assert Claim("c", Evidence.ARCHITECTURE, "r").evidence == "architecture"
    assert Claim("c", Evidence.FALLBACK + 99, "r").evidence == "fallback"
    assert Claim("c", 5, "r").evidence == "weak"
    defaults = {"a": 1}
    claim = Claim("c", 5, "r", defaults)
    defaults["a"] = 2
    assert claim.defaults == {"a": 1}
    with pytest.raises(TypeError):
        claim.defaults["a"] = 3  # type: ignore[index]
