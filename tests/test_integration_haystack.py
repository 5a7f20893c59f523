"""flagcore-haystack: the components in real Haystack pipelines, on the real all-MiniLM-L6-v2 and the tiny models,
against what the library itself gives."""

from __future__ import annotations

import os

# Haystack reads this when it is imported: no telemetry from the tests (this machine has no network anyway)
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"

import inspect  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("flagcore_haystack", reason="install plugins/haystack: pip install -e plugins/haystack")

from flagcore_haystack import (  # noqa: E402
    FlagcoreDocumentEmbedder,
    FlagcoreRanker,
    FlagcoreSparseDocumentEmbedder,
    FlagcoreSparseTextEmbedder,
    FlagcoreTextEmbedder,
)
from haystack import Document, Pipeline  # noqa: E402
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever  # noqa: E402
from haystack.components.writers import DocumentWriter  # noqa: E402
from haystack.dataclasses import SparseEmbedding  # noqa: E402
from haystack.document_stores.in_memory import InMemoryDocumentStore  # noqa: E402

from flagcore import FlagAutoModel, FlagAutoReranker  # noqa: E402
from flagcore.enums import EmbedderModelClass  # noqa: E402
from flagcore.integration import embedder_from, sparse_vectors  # noqa: E402

TEXTS = ["Paris is the capital of France.", "Giant pandas eat bamboo.", "The quick brown fox jumps over the lazy dog."]
DOCUMENTS = [Document(id=f"d{i}", content=text, meta={"title": f"title {i}"}) for i, text in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def minilm() -> str:
    from parity.tiny_models import minilm_dir

    return str(minilm_dir())


def as_array(vectors: list[list[float]]) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32)


def test_telemetry_is_off_in_these_tests():
    from haystack.telemetry import _telemetry

    assert _telemetry.telemetry is None


@pytest.mark.slow
def test_vectors_equal_the_library_per_side(minilm):
    library = FlagAutoModel.from_finetuned(minilm)
    query = FlagcoreTextEmbedder(minilm).run("What is the capital of France?")["embedding"]
    assert isinstance(query, list) and isinstance(query[0], float)
    np.testing.assert_array_equal(as_array([query]), library.encode_queries(["What is the capital of France?"]))
    documents = FlagcoreDocumentEmbedder(minilm).run(DOCUMENTS)["documents"]
    np.testing.assert_array_equal(as_array([d.embedding for d in documents]), library.encode_corpus(TEXTS))
    assert [d.id for d in documents] == [d.id for d in DOCUMENTS] and DOCUMENTS[0].embedding is None  # copies


def test_options_reach_the_factory_and_the_query_instruction_the_query_side(tiny_models):
    path = str(tiny_models["tiny-bert"])
    embedder = FlagcoreTextEmbedder(path, query_instruction_for_retrieval="Represent: ", batch_size=2)
    query = embedder.run(TEXTS[0])["embedding"]
    assert embedder._model.batch_size == 2
    library = FlagAutoModel.from_finetuned(path, query_instruction_for_retrieval="Represent: ")
    np.testing.assert_array_equal(as_array([query]), library.encode_queries([TEXTS[0]]))
    passage = FlagcoreDocumentEmbedder(path, query_instruction_for_retrieval="Represent: ").run(DOCUMENTS[:1])
    np.testing.assert_array_equal(as_array([passage["documents"][0].embedding]), library.encode_corpus(TEXTS[:1]))
    assert not np.allclose(query, passage["documents"][0].embedding)


def test_meta_fields_to_embed_change_the_text_embedded(tiny_models):
    path = str(tiny_models["tiny-bert"])
    library = FlagAutoModel.from_finetuned(path)
    embedder = FlagcoreDocumentEmbedder(path, meta_fields_to_embed=["title", "absent"], embedding_separator=" | ")
    documents = embedder.run(DOCUMENTS[:2])["documents"]
    expected = library.encode_corpus([f"title {i} | {text}" for i, text in enumerate(TEXTS[:2])])
    np.testing.assert_array_equal(as_array([d.embedding for d in documents]), expected)
    assert not np.allclose(expected, library.encode_corpus(TEXTS[:2]))


def test_empty_inputs_and_wrong_types(tiny_models):
    path = str(tiny_models["tiny-bert"])
    assert FlagcoreDocumentEmbedder(path).run([]) == {"documents": []}
    with pytest.raises(TypeError, match="use FlagcoreDocumentEmbedder"):
        FlagcoreTextEmbedder(path).run(DOCUMENTS)
    with pytest.raises(TypeError, match="use FlagcoreTextEmbedder"):
        FlagcoreDocumentEmbedder(path).run("a string")


def test_the_model_loads_in_warm_up_once(tiny_models):
    embedder = FlagcoreTextEmbedder(str(tiny_models["tiny-bert"]))
    assert embedder._model is None  # building a pipeline loads nothing
    embedder.warm_up()
    loaded = embedder._model
    embedder.warm_up()
    embedder.run("hello")
    assert loaded is not None and embedder._model is loaded


def test_a_loaded_model_is_shared_and_cannot_be_saved(tiny_models):
    loaded = embedder_from(str(tiny_models["tiny-bert"]))
    embedder = FlagcoreTextEmbedder(loaded)
    np.testing.assert_array_equal(as_array([embedder.run("hello")["embedding"]]), loaded.encode_queries(["hello"]))
    assert embedder._model is loaded
    with pytest.raises(TypeError, match="pass the model's name or path"):
        embedder.to_dict()
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreTextEmbedder(loaded, batch_size=4).warm_up()


def test_to_dict_and_from_dict_keep_every_option(tiny_models):
    ranker = FlagcoreRanker(Path(tiny_models["tiny-bert-reranker"]), top_k=3, meta_fields_to_embed=["title"],
                            batch_size=4, max_length=64, devices=["cpu"], normalize=True)
    data = ranker.to_dict()
    assert data["type"] == "flagcore_haystack.ranker.FlagcoreRanker"
    assert data["init_parameters"] == {"model": str(tiny_models["tiny-bert-reranker"]), "top_k": 3,
                                       "meta_fields_to_embed": ["title"], "embedding_separator": "\n",
                                       "batch_size": 4, "max_length": 64, "devices": ["cpu"], "normalize": True}
    again = FlagcoreRanker.from_dict(data)
    assert again.to_dict() == data
    embedder = FlagcoreDocumentEmbedder(str(tiny_models["tiny-bert"]), model_class=EmbedderModelClass.ENCODER_ONLY_BASE)
    assert embedder.to_dict()["init_parameters"]["model_class"] == "encoder-only-base"  # an enum saved as its value
    assert FlagcoreDocumentEmbedder.from_dict(embedder.to_dict()).model_options == {"model_class": "encoder-only-base"}


def test_options_that_a_pipeline_file_cannot_hold_are_refused(tiny_models):
    with pytest.raises(TypeError, match="option devices=.* cannot be saved"):
        FlagcoreTextEmbedder(str(tiny_models["tiny-bert"]), devices=object()).to_dict()
    data = FlagcoreTextEmbedder("some/model").to_dict()
    data["init_parameters"]["devices"] = {"type": "os.system", "init_parameters": {}}
    with pytest.raises(ValueError, match="'devices' holds a serialized object"):
        FlagcoreTextEmbedder.from_dict(data)


def ranked_by_library(path: str, query: str, texts: list[str], **options) -> list[tuple[int, float]]:
    scores = FlagAutoReranker.from_finetuned(path, **options).compute_score([(query, text) for text in texts])
    order = np.argsort(-np.asarray(scores), kind="stable")
    return [(int(i), scores[i]) for i in order]


def test_ranker_orders_keeps_top_k_and_scores_as_compute_score(tiny_models):
    path = str(tiny_models["tiny-bert-reranker"])
    expected = ranked_by_library(path, "pandas", TEXTS)
    ranker = FlagcoreRanker(path, top_k=2)
    result = ranker.run("pandas", DOCUMENTS)["documents"]
    assert [d.id for d in result] == [f"d{i}" for i, _ in expected[:2]]
    assert [d.score for d in result] == pytest.approx([score for _, score in expected[:2]], abs=1e-6)
    assert [d.id for d in ranker.run("pandas", DOCUMENTS, top_k=1)["documents"]] == [f"d{expected[0][0]}"]
    assert ranker.run("pandas", []) == {"documents": []}
    with pytest.raises(ValueError, match="top_k must be an integer > 0"):
        ranker.run("pandas", DOCUMENTS, top_k=0)
    with pytest.raises(ValueError, match="top_k must be an integer > 0"):
        FlagcoreRanker(path, top_k=-1)


def test_ranker_normalize_and_meta_fields(tiny_models):
    path = str(tiny_models["tiny-bert-reranker"])
    raw = dict(ranked_by_library(path, "pandas", TEXTS))
    normalized = FlagcoreRanker(path, normalize=True).run("pandas", DOCUMENTS)["documents"]
    for document in normalized:
        assert document.score == pytest.approx(1 / (1 + math.exp(-raw[int(document.id[1:])])), abs=1e-6)
    with_titles = FlagcoreRanker(path, meta_fields_to_embed=["title"]).run("pandas", DOCUMENTS)["documents"]
    titled = dict(ranked_by_library(path, "pandas", [f"title {i}\n{text}" for i, text in enumerate(TEXTS)]))
    assert {d.id: d.score for d in with_titles} == pytest.approx({f"d{i}": s for i, s in titled.items()}, abs=1e-6)


def test_ranker_scores_a_document_id_once(tiny_models):
    ranker = FlagcoreRanker(str(tiny_models["tiny-bert-reranker"]))
    copy = Document(id="d0", content=TEXTS[0], score=0.5)
    result = ranker.run("pandas", [DOCUMENTS[0], copy, DOCUMENTS[1]])["documents"]
    assert sorted(d.id for d in result) == ["d0", "d1"]


def test_sparse_embedders_equal_sparse_vectors(tiny_models):
    path = str(tiny_models["tiny-m3"])
    library = embedder_from(path)
    query = FlagcoreSparseTextEmbedder(path).run("pandas eat bamboo")["sparse_embedding"]
    expected = sparse_vectors(library, ["pandas eat bamboo"], query=True)[0]
    assert isinstance(query, SparseEmbedding) and query.indices == expected.indices
    assert query.values == pytest.approx(expected.values, abs=1e-6)
    documents = FlagcoreSparseDocumentEmbedder(path).run(DOCUMENTS)["documents"]
    for document, vector in zip(documents, sparse_vectors(library, TEXTS, query=False), strict=True):
        assert document.sparse_embedding.indices == vector.indices and document.embedding is None
        assert document.sparse_embedding.values == pytest.approx(vector.values, abs=1e-6)


def test_a_dense_only_model_is_refused_by_the_sparse_embedders_at_warm_up(tiny_models):
    path = str(tiny_models["tiny-bert"])
    for component in (FlagcoreSparseTextEmbedder(path), FlagcoreSparseDocumentEmbedder(path)):
        with pytest.raises(ValueError, match=r"gives no sparse vectors .*use a model with a sparse head"):
            component.warm_up()
        assert component._model is None


def index(minilm: str) -> InMemoryDocumentStore:
    store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component("embedder", FlagcoreDocumentEmbedder(minilm, meta_fields_to_embed=["title"]))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    assert indexing.run({"embedder": {"documents": DOCUMENTS}})["writer"]["documents_written"] == len(DOCUMENTS)
    return store


def query_pipeline(minilm: str, reranker: str, store: InMemoryDocumentStore) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embedder", FlagcoreTextEmbedder(minilm, batch_size=8))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=3))
    pipeline.add_component("ranker", FlagcoreRanker(reranker, top_k=2, max_length=128))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")
    return pipeline


def load(saved: str) -> Pipeline:
    """Haystack 3 imports only allow-listed modules from a pipeline file; Haystack 2 has no allowlist."""
    if "allowed_modules" in inspect.signature(Pipeline.loads).parameters:
        return Pipeline.loads(saved, allowed_modules=["flagcore_haystack"])
    return Pipeline.loads(saved)


@pytest.mark.slow
def test_indexing_and_query_pipelines_and_their_saved_form(minilm, tiny_models):
    reranker = str(tiny_models["tiny-bert-reranker"])
    store = index(minilm)
    pipeline = query_pipeline(minilm, reranker, store)
    question = "Which animal eats bamboo?"
    result = pipeline.run({"embedder": {"text": question}, "ranker": {"query": question}},
                          include_outputs_from={"retriever"})
    retrieved = result["retriever"]["documents"]
    assert retrieved[0].id == "d1"  # MiniLM finds the panda passage first
    expected = ranked_by_library(reranker, question, [d.content for d in retrieved])
    assert [d.id for d in result["ranker"]["documents"]] == [retrieved[i].id for i, _ in expected[:2]]
    assert [d.score for d in result["ranker"]["documents"]] == pytest.approx([s for _, s in expected[:2]], abs=1e-6)

    reloaded = load(pipeline.dumps())
    reloaded_store = reloaded.get_component("retriever").document_store
    if reloaded_store.count_documents() == 0:  # early Haystack 2 (2.1): a loaded in-memory store starts empty
        reloaded_store.write_documents(store.filter_documents())
    assert reloaded.get_component("ranker").model_options == {"max_length": 128}
    again = reloaded.run({"embedder": {"text": question}, "ranker": {"query": question}})
    assert [(d.id, d.score) for d in again["ranker"]["documents"]] == \
        [(d.id, d.score) for d in result["ranker"]["documents"]]
