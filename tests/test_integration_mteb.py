"""flagcore_mteb on the real MTEB: a local retrieval task evaluated with ``mteb.evaluate`` gives the same scores
through FlagcoreEncoder as through MTEB's own sentence-transformers wrapper of the same all-MiniLM-L6-v2 folder; a
previous run's top documents reranked by FlagcoreCrossEncoder match MTEB's CrossEncoderWrapper; and the prompt
types, instructions and metadata reach the model as documented. Nothing is downloaded; MTEB's results cache lives
in a temporary folder."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

# before mteb is imported: it creates its default results cache (~/.cache/mteb unless MTEB_CACHE) at import
if "MTEB_CACHE" not in os.environ:
    os.environ["MTEB_CACHE"] = tempfile.mkdtemp(prefix="flagcore-mteb-cache-")
    atexit.register(shutil.rmtree, os.environ["MTEB_CACHE"], ignore_errors=True)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

mteb = pytest.importorskip("mteb")
flagcore_mteb = pytest.importorskip("flagcore_mteb")

from flagcore_mteb import FlagcoreCrossEncoder, FlagcoreEncoder  # noqa: E402
from integrations.mteb_local_task import QUERY_INSTRUCTION, LocalRetrieval  # noqa: E402
from mteb.models import CrossEncoderProtocol, EncoderProtocol, SearchProtocol  # noqa: E402
from mteb.models.model_meta import ScoringFunction  # noqa: E402
from mteb.types import PromptType  # noqa: E402

import flagcore  # noqa: E402

TEXTS = ["What causes the northern lights?", "Canberra is the capital of Australia.", "a third, longer text here"]
SCORES = ("ndcg_at_10", "map_at_10", "mrr_at_10", "recall_at_1", "recall_at_10", "precision_at_3", "main_score")


def loader(texts: list[str]):
    """An MTEB-style text DataLoader: batches of {"text": [...]}."""
    from datasets import Dataset
    from torch.utils.data import DataLoader

    return DataLoader(Dataset.from_dict({"text": texts}), batch_size=2)


def encode(wrapper: FlagcoreEncoder, texts: list[str], prompt_type: PromptType | None) -> np.ndarray:
    return wrapper.encode(loader(texts), task_metadata=LocalRetrieval.metadata, hf_split="test", hf_subset="default",
                          prompt_type=prompt_type)


def run(model, tmp_path, name: str, task=None):
    """``mteb.evaluate`` on the local task with the cache and the predictions under ``tmp_path``: (scores of the
    test split, {query id: {document id: score}})."""
    task = task or LocalRetrieval()
    folder = tmp_path / f"predictions-{name}"
    result = mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path / "cache"), co2_tracker=False,
                           prediction_folder=folder, show_progress_bar=False, overwrite_strategy="always")
    predictions = json.loads(next(folder.glob("*.json")).read_text())
    return result.task_results[0].scores["test"][0], predictions["default"]["test"]


@pytest.fixture(scope="module")
def minilm(tiny_models):
    return str(tiny_models["minilm"])


@pytest.fixture(scope="module")
def minilm_encoder(minilm):
    return FlagcoreEncoder(minilm, devices="cpu")


@pytest.fixture(scope="module")
def flagcore_run(minilm_encoder, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("flagcore-run")
    return (*run(minilm_encoder, tmp_path, "flagcore"), tmp_path)


@pytest.mark.slow
def test_local_retrieval_scores_match_mtebs_sentence_transformers_wrapper(minilm, flagcore_run, tmp_path):
    from mteb.models import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    ours, our_predictions, our_tmp = flagcore_run
    reference = SentenceTransformerEncoderWrapper(SentenceTransformer(minilm, device="cpu"))
    theirs, their_predictions = run(reference, tmp_path, "st")
    print(f"nDCG@10 flagcore {ours['ndcg_at_10']} sentence-transformers {theirs['ndcg_at_10']}")
    assert 0.5 < ours["ndcg_at_10"] < 1.0  # the task separates models: neither trivial nor failed
    for score in SCORES:
        assert ours[score] == pytest.approx(theirs[score], abs=1e-4), score
    assert our_predictions.keys() == their_predictions.keys()
    for query, documents in our_predictions.items():
        assert documents.keys() == their_predictions[query].keys()
        for document, score in documents.items():
            assert score == pytest.approx(their_predictions[query][document], abs=1e-5)
    # the results went to the cache given, under the name and revision our metadata gives the local folder
    written = list((our_tmp / "cache").rglob("FlagcoreLocalRetrieval.json"))
    assert [path.parent.parent.name for path in written] == ["local__model"]
    assert written[0].parent.name.startswith("local-")


@pytest.mark.slow
def test_reranking_the_encoders_top_documents_matches_mtebs_cross_encoder_wrapper(tiny_models, flagcore_run,
                                                                                   tmp_path):
    from mteb.models import CrossEncoderWrapper
    from sentence_transformers import CrossEncoder

    _, _, first_stage = flagcore_run
    path = str(tiny_models["tiny-bert-reranker"])
    results = {}
    for name, model in (("flagcore", FlagcoreCrossEncoder(path, devices="cpu")),
                        ("st", CrossEncoderWrapper(CrossEncoder(path, device="cpu")))):
        task = LocalRetrieval().convert_to_reranking(first_stage / "predictions-flagcore", top_k=5)
        results[name] = run(model, tmp_path, name, task=task)
    (ours, our_predictions), (theirs, _) = results["flagcore"], results["st"]
    assert all(len(documents) == 5 for documents in our_predictions.values())  # only the first stage's top 5
    for score in SCORES:
        assert ours[score] == pytest.approx(theirs[score], abs=1e-4), score


def test_prompt_types_pick_the_models_query_and_corpus_sides(tiny_models):
    wrapper = FlagcoreEncoder(str(tiny_models["tiny-bert"]), devices="cpu", query_instruction_for_retrieval="Q: ")
    model = wrapper.model
    queries = encode(wrapper, TEXTS, PromptType.query)
    np.testing.assert_allclose(queries, model.encode_queries(TEXTS), atol=1e-6)
    np.testing.assert_allclose(queries, model.encode(["Q: " + text for text in TEXTS]), atol=1e-6)
    plain = encode(wrapper, TEXTS, None)
    assert not np.allclose(queries, plain, atol=1e-3)  # the instruction changed the query vectors
    np.testing.assert_allclose(plain, model.encode(TEXTS), atol=1e-6)
    np.testing.assert_allclose(encode(wrapper, TEXTS, PromptType.document), model.encode_corpus(TEXTS), atol=1e-6)
    assert encode(wrapper, [], PromptType.query).shape == (0, model.embedding_dim)


def test_model_prompts_are_resolved_in_mtebs_order(tiny_models):
    model = flagcore.FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
    prompts = {"query": "Generic: ", "Retrieval-query": "Search: ", "STS": "Unused: ", "document": ""}
    wrapper = FlagcoreEncoder(model, model_prompts=prompts)
    assert wrapper.model is model
    np.testing.assert_allclose(encode(wrapper, TEXTS, PromptType.query),
                               model.encode(["Search: " + text for text in TEXTS]), atol=1e-6)
    np.testing.assert_allclose(encode(wrapper, TEXTS, PromptType.document), model.encode(TEXTS), atol=1e-6)
    assert wrapper.mteb_model_meta.use_instructions is True


def test_task_instructions_fill_a_models_instruction_template(tiny_models):
    template = "<instruct>{}\n<query>{}"
    model = flagcore.FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu",
                                                  query_instruction_for_retrieval="Own instruction",
                                                  query_instruction_format=template)
    wrapper = FlagcoreEncoder(model)
    assert wrapper.task_instructions  # on by default for a model with a template
    instructed = [template.format(QUERY_INSTRUCTION, text) for text in TEXTS]
    np.testing.assert_allclose(encode(wrapper, TEXTS, PromptType.query), model.encode(instructed), atol=1e-6)
    assert model.query_instruction_for_retrieval == "Own instruction"  # restored after the call
    np.testing.assert_allclose(encode(wrapper, TEXTS, PromptType.document), model.encode_corpus(TEXTS), atol=1e-6)
    own = FlagcoreEncoder(model, task_instructions=False)
    np.testing.assert_allclose(encode(own, TEXTS, PromptType.query), model.encode_queries(TEXTS), atol=1e-6)


def test_a_similarity_mteb_has_no_name_for_is_the_models_own(tiny_models):
    model = flagcore.FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
    model.similarity_fn_name = "euclidean"  # as a sentence-transformers model may declare
    wrapper = FlagcoreEncoder(model)
    assert wrapper.mteb_model_meta.similarity_fn_name is None
    first, second = encode(wrapper, TEXTS, None), encode(wrapper, TEXTS[::-1], None)
    expected = -np.linalg.norm(first[:, None] - second[None], axis=-1)
    np.testing.assert_allclose(np.asarray(wrapper.similarity(first, second)), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(wrapper.similarity_pairwise(first, second)), np.diag(expected), atol=1e-5)


def test_metadata_comes_from_the_loaded_model(minilm_encoder):
    meta = minilm_encoder.mteb_model_meta
    model = minilm_encoder.model
    assert isinstance(minilm_encoder, EncoderProtocol)
    assert not isinstance(minilm_encoder, (SearchProtocol, CrossEncoderProtocol))
    assert (meta.name, meta.loader, meta.model_type) == ("local/model", FlagcoreEncoder, ["dense"])
    assert meta.revision.startswith("local-") and len(meta.revision) == len("local-") + 10
    assert (meta.embed_dim, meta.max_tokens, meta.similarity_fn_name) == (384, 256, ScoringFunction.COSINE)
    assert meta.n_parameters == sum(p.numel() for p in model.model.parameters()) > 20_000_000
    assert meta.framework == ["PyTorch"] and meta.experiment_kwargs is None
    assert meta.use_instructions is False


def test_loader_arguments_and_settings_that_change_results(tiny_models):
    path = str(tiny_models["tiny-bert"])
    wrapper = FlagcoreEncoder(path, "v1", device="cpu", truncate_dim=16, use_bf16=True, name=path)
    meta = wrapper.mteb_model_meta
    assert wrapper.model.target_devices == ["cpu"]
    assert (meta.name, meta.revision, meta.embed_dim) == (path, "v1", 16)
    # recorded as the factory keywords that reproduce the run: MTEB keys its cache by them and hands them back
    assert meta.experiment_kwargs == {"truncate_dim": 16, "use_bf16": True}
    assert encode(wrapper, TEXTS, None).shape == (3, 16)
    rebuilt = meta.load_model(device="cpu")
    assert isinstance(rebuilt, FlagcoreEncoder) and rebuilt.model is not wrapper.model
    assert (rebuilt.model.truncate_dim, rebuilt.model.compute_dtype) == (16, "bfloat16")


def test_cross_encoder_predict_is_compute_score(tiny_models):
    path = str(tiny_models["tiny-bert-reranker"])
    raw, squashed = FlagcoreCrossEncoder(path, devices="cpu"), FlagcoreCrossEncoder(path, devices="cpu",
                                                                                  normalize=True)
    queries, documents = TEXTS, list(reversed(TEXTS))
    pairs = list(zip(queries, documents, strict=True))

    def predict(wrapper):
        return wrapper.predict(loader(queries), loader(documents), task_metadata=LocalRetrieval.metadata,
                               hf_split="test", hf_subset="default", batch_size=32, precision="float32")

    np.testing.assert_array_equal(predict(raw), raw.model.compute_score(pairs))
    np.testing.assert_array_equal(predict(squashed), raw.model.compute_score(pairs, normalize=True))
    assert np.all((predict(squashed) > 0) & (predict(squashed) < 1)) and np.any(predict(raw) < 0)
    meta = raw.mteb_model_meta
    assert isinstance(raw, CrossEncoderProtocol) and not isinstance(raw, EncoderProtocol)
    assert meta.is_cross_encoder and meta.loader is FlagcoreCrossEncoder and meta.max_tokens == 512
    with pytest.raises(ValueError, match="2 queries for 3 documents"):
        raw.predict(loader(TEXTS[:2]), loader(TEXTS), task_metadata=LocalRetrieval.metadata, hf_split="test",
                    hf_subset="default")


def test_wrong_arguments_name_the_fix(tiny_models, minilm_encoder):
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreEncoder(minilm_encoder.model, devices="cpu")
    with pytest.raises(TypeError, match="pass one"):
        FlagcoreEncoder("unused", device="cpu", devices=["cpu"])
    with pytest.raises(TypeError, match="loaded flagcore AbsReranker"):
        FlagcoreCrossEncoder(minilm_encoder.model)
    with pytest.raises(ValueError, match="prompt types are query, document or None"):
        encode(minilm_encoder, TEXTS, "passage")
