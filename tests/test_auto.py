from __future__ import annotations

import logging

import numpy as np
import pytest
from fakes import FakeEmbedder, FakeReranker, OneClassPlugin

from flagcore import (
    AbsEmbedder,
    AbsReranker,
    Claim,
    EmbedderModelClass,
    Evidence,
    FlagAutoModel,
    FlagAutoReranker,
    PluginNotInstalledError,
    RerankerModelClass,
    UnknownModelError,
    hookimpl,
    plugin_registered,
)


def test_factories_cannot_be_instantiated():
    with pytest.raises(OSError, match=r"FlagAutoModel.from_finetuned"):
        FlagAutoModel()
    with pytest.raises(OSError, match=r"FlagAutoReranker.from_finetuned"):
        FlagAutoReranker()


def test_enum_values_match_flagembedding():
    assert [m.value for m in EmbedderModelClass] == [
        "encoder-only-base", "encoder-only-m3", "decoder-only-base", "decoder-only-icl", "decoder-only-pseudo_moe"]
    assert [m.value for m in RerankerModelClass] == [
        "encoder-only-base", "decoder-only-base", "decoder-only-layerwise", "decoder-only-lightweight"]


def test_from_finetuned_builds_the_claimed_class_with_claim_defaults(fake_family):
    model = FlagAutoModel.from_finetuned("org/fake-embedder-v1", devices="cpu")
    assert type(model) is FakeEmbedder and isinstance(model, AbsEmbedder)
    assert model.pooling_method == "mean"  # from the claim
    assert model.use_fp16 is True and model.compute_dtype == "float32"
    assert model.encode(["hello there"]).shape == (1, 8)


def test_explicit_arguments_override_claim_defaults(fake_family):
    model = FlagAutoModel.from_finetuned("fake-x", devices="cpu", pooling_method="cls", batch_size=7,
                                         query_instruction_for_retrieval="Q: ", truncate_dim=4)
    assert (model.pooling_method, model.batch_size, model.query_instruction_for_retrieval, model.truncate_dim) == (
        "cls", 7, "Q: ", 4)


def test_reranker_factory(fake_family):
    model = FlagAutoReranker.from_finetuned("fake-reranker", devices="cpu", max_length=64, normalize=True)
    assert type(model) is FakeReranker and isinstance(model, AbsReranker)
    assert model.use_fp16 is False and model.max_length == 64
    scores = model.compute_score([("a", "b"), ("c", "d")])
    assert len(scores) == 2 and all(0 < s < 1 for s in scores)


def test_explicit_model_class_for_an_unclaimed_name(fake_family):
    model = FlagAutoModel.from_finetuned("custom-model-name", model_class="fake-embedder", devices="cpu",
                                         pooling_method="mean")
    assert type(model) is FakeEmbedder and model.pooling_method == "mean"
    with pytest.raises(UnknownModelError, match="model_class="):
        FlagAutoModel.from_finetuned("custom-model-name", devices="cpu")


def test_unknown_keyword_is_rejected_through_the_factory(fake_family):
    with pytest.raises(TypeError, match="'pooling_mehtod'.*did you mean 'pooling_method'"):
        FlagAutoModel.from_finetuned("fake-x", devices="cpu", pooling_mehtod="mean")


def test_device_error_through_the_factory(fake_family):
    with pytest.raises(RuntimeError, match="Device error"):
        FlagAutoModel.from_finetuned("fake-x", devices=["invalid:0"])


def test_missing_model_directory(fake_family, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FlagAutoModel.from_finetuned(str(tmp_path / "nowhere" / "fake-model"))


def test_not_installed_family_through_the_factory(no_installed_plugins):
    with pytest.raises(PluginNotInstalledError, match=r"pip install 'flagcore\[m3\]'"):
        FlagAutoModel.from_finetuned("BAAI/bge-m3")
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[bge\]"):
        FlagAutoReranker.from_finetuned("BAAI/bge-reranker-base")


def test_claims_never_turn_on_remote_code(no_installed_plugins, caplog):
    remote_code = OneClassPlugin("remote-code", "rc-embedder", defaults={"trust_remote_code": True})
    with plugin_registered(remote_code):
        with caplog.at_level(logging.WARNING, logger="flagcore.auto"):
            model = FlagAutoModel.from_finetuned("gte-large-en-v1.5", devices="cpu", prefer_plugin="remote-code")
        assert model.trust_remote_code is False
        assert "trust_remote_code=True" in caplog.text
        assert FlagAutoModel.from_finetuned("x", devices="cpu", trust_remote_code=True).trust_remote_code is True


def test_lazy_class_reference_is_imported_only_when_chosen(no_installed_plugins, monkeypatch, tmp_path):
    module = tmp_path / "lazy_family_impl.py"
    module.write_text("from fakes import FakeEmbedder as LazyEmbedder\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Lazy:
        __name__ = "lazy"

        @hookimpl
        def register_model_classes(self, register):
            register.add_embedder("lazy-embedder", "lazy_family_impl:LazyEmbedder")

        @hookimpl
        def claim_embedder(self, probe):
            return Claim("lazy-embedder", Evidence.NAME, "always")

    import sys

    from flagcore import explain

    with plugin_registered(Lazy()):
        assert explain("anything")[0].model_class == "lazy-embedder"
        assert "lazy_family_impl" not in sys.modules
        model = FlagAutoModel.from_finetuned("anything", devices="cpu")
        assert "lazy_family_impl" in sys.modules
        assert np.asarray(model.encode("a b")).shape == (8,)


def test_registered_target_must_be_the_right_base(no_installed_plugins):
    wrong = OneClassPlugin("wrong", "wrong-embedder", cls=FakeReranker)
    with plugin_registered(wrong), pytest.raises(TypeError, match="not a subclass of AbsEmbedder"):
        FlagAutoModel.from_finetuned("anything", devices="cpu")


def test_an_embedder_class_forced_onto_a_classifier_is_refused_unless_asked_for(tiny_models):


    folder = str(tiny_models["tiny-bert-reranker"])
    with pytest.raises(ValueError, match=r"BertForSequenceClassification .*FlagAutoReranker.from_finetuned.*"
                                         r"ignore_classifier_head=True"):
        FlagAutoModel.from_finetuned(folder, model_class="encoder-only-base")
    model = FlagAutoModel.from_finetuned(folder, model_class="encoder-only-base", ignore_classifier_head=True)
    assert model.encode(["a text"]).shape == (1, 32)
    assert not hasattr(model, "ignore_classifier_head")  # the factory's switch, not passed to the class
    # and the reverse: a reranker class on a bare encoder would score with a random head
    with pytest.raises(ValueError, match="no classification head"):
        FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base")
    assert np.isfinite(FlagAutoReranker.from_finetuned(folder).compute_score([("q", "p")])).all()
