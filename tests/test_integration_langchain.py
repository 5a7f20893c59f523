"""flagcore-langchain (plugins/langchain): FlagcoreEmbeddings and FlagcoreRerank inside real LangChain objects
(langchain-core's InMemoryVectorStore and retriever), giving exactly the library's vectors and scores."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from pydantic import ValidationError

from flagcore.integration import embedder_from, reranker_from

flagcore_langchain = pytest.importorskip("flagcore_langchain")
FlagcoreEmbeddings = flagcore_langchain.FlagcoreEmbeddings
FlagcoreRerank = flagcore_langchain.FlagcoreRerank
RELEVANCE_SCORE = flagcore_langchain.RELEVANCE_SCORE

TEXTS = ["The cat sits on the mat.", "Paris is the capital of France.", "A dog runs in the park."]
CORPUS = [
    ("Paris is the capital and largest city of France.", {"topic": "geography", "n": 0}),
    ("Photosynthesis turns light, water and carbon dioxide into sugar in plants.", {"topic": "biology", "n": 1}),
    ("The stock market fell sharply after the interest rate announcement.", {"topic": "finance", "n": 2}),
    ("A goalkeeper stops the ball from entering the net in football.", {"topic": "sport", "n": 3}),
]
QUERY = "What is the capital city of France?"


@pytest.fixture(scope="module")
def minilm():
    from parity.tiny_models import minilm_dir

    return embedder_from(str(minilm_dir()))


@pytest.fixture(scope="module")
def tiny_bert(tiny_models):
    return embedder_from(str(tiny_models["tiny-bert"]), query_instruction_for_retrieval="Represent: ")


@pytest.fixture(scope="module")
def tiny_reranker(tiny_models):
    return reranker_from(str(tiny_models["tiny-bert-reranker"]))


def _docs() -> list[Document]:
    return [Document(page_content=text, metadata=dict(metadata), id=f"doc-{i}")
            for i, (text, metadata) in enumerate(CORPUS)]


# --- embeddings ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_vectors_equal_the_library_per_side(minilm):
    embeddings = FlagcoreEmbeddings(minilm)
    assert isinstance(embeddings, Embeddings)
    documents = embeddings.embed_documents(TEXTS)
    assert all(isinstance(vector, list) and isinstance(vector[0], float) for vector in documents)
    np.testing.assert_array_equal(np.asarray(documents, dtype=np.float32), minilm.encode_corpus(TEXTS))
    query = embeddings.embed_query(QUERY)
    np.testing.assert_array_equal(np.asarray([query], dtype=np.float32), minilm.encode_queries([QUERY]))


def test_queries_get_the_query_instruction_and_documents_do_not(tiny_bert):
    embeddings = FlagcoreEmbeddings(tiny_bert)
    query = embeddings.embed_query(TEXTS[0])
    [document] = embeddings.embed_documents(TEXTS[:1])
    assert not np.allclose(query, document)
    np.testing.assert_array_equal(np.asarray([query], dtype=np.float32), tiny_bert.encode_queries(TEXTS[:1]))
    np.testing.assert_array_equal(np.asarray([document], dtype=np.float32), tiny_bert.encode_corpus(TEXTS[:1]))
    np.testing.assert_allclose(query, tiny_bert.encode(["Represent: " + TEXTS[0]])[0], atol=1e-6)


def test_options_go_to_the_auto_factory(tiny_models):
    embeddings = FlagcoreEmbeddings(tiny_models["tiny-bert"], batch_size=2, query_instruction_for_retrieval="Q: ",
                                    devices="cpu")
    assert embeddings.model.batch_size == 2
    assert embeddings.model.query_instruction_for_retrieval == "Q: "
    assert str(embeddings.model.model_name_or_path) == str(tiny_models["tiny-bert"])
    vectors = embeddings.embed_documents(TEXTS)  # three texts in batches of two
    np.testing.assert_array_equal(np.asarray(vectors, dtype=np.float32), embeddings.model.encode_corpus(TEXTS))


def test_a_loaded_model_is_used_as_it_is_and_options_with_it_are_refused(tiny_bert):
    assert FlagcoreEmbeddings(tiny_bert).model is tiny_bert
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreEmbeddings(tiny_bert, batch_size=4)
    with pytest.raises(TypeError, match="model name or path"):
        FlagcoreEmbeddings(3)


def test_empty_and_wrongly_shaped_inputs(tiny_bert):
    embeddings = FlagcoreEmbeddings(tiny_bert)
    assert embeddings.embed_documents([]) == []
    with pytest.raises(TypeError, match=r"not one string: pass \[text\]"):
        embeddings.embed_documents("one text")
    with pytest.raises(TypeError, match="use embed_documents"):
        embeddings.embed_query(["a", "b"])
    assert "tiny-bert" in repr(embeddings)


def test_async_equals_sync_and_runs_off_the_event_loop(tiny_bert, monkeypatch):
    embeddings = FlagcoreEmbeddings(tiny_bert)
    threads = []
    sync_documents, sync_query = embeddings.embed_documents, embeddings.embed_query

    def recording(call):
        def run(argument):
            threads.append(threading.get_ident())
            return call(argument)
        return run

    monkeypatch.setattr(embeddings, "embed_documents", recording(sync_documents))
    monkeypatch.setattr(embeddings, "embed_query", recording(sync_query))

    async def both():
        return (await embeddings.aembed_documents(TEXTS), await embeddings.aembed_query(TEXTS[0]),
                threading.get_ident())

    documents, query, loop_thread = asyncio.run(both())
    assert documents == sync_documents(TEXTS) and query == sync_query(TEXTS[0])
    assert len(threads) == 2 and loop_thread not in threads


def test_langchain_core_has_no_sparse_embeddings_interface():
    """docs/integrations/langchain.md says so (M3's sparse vectors come from flagcore directly): this fails the day
    langchain-core gains one, to be wrapped then."""
    import langchain_core.embeddings as module

    assert not [name for name in dir(module) if "sparse" in name.lower()]


# --- rerank -------------------------------------------------------------------------------------------------------


def _library_order(reranker, query: str, texts: list[str], **options) -> tuple[list[int], list[float]]:
    scores = reranker.compute_score([(query, text) for text in texts], **options)
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    return order, [scores[i] for i in order]


def test_rerank_keeps_the_best_top_n_with_the_library_scores(tiny_reranker):
    documents = _docs()
    compressor = FlagcoreRerank(tiny_reranker, top_n=2)
    best = compressor.compress_documents(documents, QUERY)
    order, scores = _library_order(tiny_reranker, QUERY, [d.page_content for d in documents])
    assert [d.id for d in best] == [documents[i].id for i in order[:2]]
    assert [d.metadata[RELEVANCE_SCORE] for d in best] == scores[:2]
    assert RELEVANCE_SCORE == "relevance_score"


def test_rerank_preserves_metadata_and_leaves_the_given_documents_alone(tiny_reranker):
    documents = _docs()
    best = FlagcoreRerank(tiny_reranker, top_n=4).compress_documents(documents, QUERY)
    by_id = {d.id: d for d in documents}
    for document in best:
        original = by_id[document.id]
        assert document.page_content == original.page_content
        assert document.metadata == {**original.metadata, RELEVANCE_SCORE: document.metadata[RELEVANCE_SCORE]}
    assert all(RELEVANCE_SCORE not in d.metadata for d in documents)


def test_top_n_larger_than_the_documents_or_none_returns_them_all_ordered(tiny_reranker):
    documents = _docs()
    order, scores = _library_order(tiny_reranker, QUERY, [d.page_content for d in documents])
    for top_n in (10, None):
        ranked = FlagcoreRerank(tiny_reranker, top_n=top_n).compress_documents(documents, QUERY)
        assert [d.id for d in ranked] == [documents[i].id for i in order]
        assert [d.metadata[RELEVANCE_SCORE] for d in ranked] == scores
    assert FlagcoreRerank(tiny_reranker).compress_documents([], QUERY) == []


def test_normalize_passes_through(tiny_reranker):
    documents = _docs()
    texts = [d.page_content for d in documents]
    raw = FlagcoreRerank(tiny_reranker, top_n=None).compress_documents(documents, QUERY)
    squashed = FlagcoreRerank(tiny_reranker, top_n=None, normalize=True).compress_documents(documents, QUERY)
    assert [d.metadata[RELEVANCE_SCORE] for d in raw] == _library_order(tiny_reranker, QUERY, texts)[1]
    assert [d.metadata[RELEVANCE_SCORE] for d in squashed] == _library_order(
        tiny_reranker, QUERY, texts, normalize=True)[1]
    assert all(0 < d.metadata[RELEVANCE_SCORE] < 1 for d in squashed)
    assert not all(0 < d.metadata[RELEVANCE_SCORE] < 1 for d in raw)  # the tiny model's raw logits are negative


def test_rerank_options_reach_the_factory_and_a_loaded_model_is_used(tiny_models, tiny_reranker):
    compressor = FlagcoreRerank(tiny_models["tiny-bert-reranker"], top_n=1, batch_size=3, max_length=64)
    assert (compressor.model.batch_size, compressor.model.max_length) == (3, 64)
    assert compressor.top_n == 1 and compressor.normalize is False
    assert str(tiny_models["tiny-bert-reranker"]) in repr(compressor)
    assert FlagcoreRerank(tiny_reranker).model is tiny_reranker
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreRerank(tiny_reranker, batch_size=3)


def test_bad_top_n_or_documents_are_refused_before_loading_anything(tiny_reranker):
    with pytest.raises(ValidationError, match="top_n"):
        FlagcoreRerank("/no/such/model", top_n=0)  # a load would fail differently: the fields are checked first
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        FlagcoreRerank(tiny_reranker).compress_documents(Document(page_content="x"), QUERY)


def test_async_compress_equals_sync(tiny_reranker):
    compressor = FlagcoreRerank(tiny_reranker, top_n=2)
    documents = _docs()
    assert asyncio.run(compressor.acompress_documents(documents, QUERY)) == compressor.compress_documents(
        documents, QUERY)


# --- a pipeline ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_vector_store_retrieval_then_rerank(minilm, tiny_reranker):
    """InMemoryVectorStore on MiniLM finds the right document for a clear question; the reranker then orders what
    the retriever found exactly as the library's compute_score does (the tiny reranker is random: order, not sense)."""
    store = InMemoryVectorStore(FlagcoreEmbeddings(minilm))
    store.add_documents(_docs())
    retriever = store.as_retriever(search_kwargs={"k": 3})
    found = retriever.invoke(QUERY)
    assert len(found) == 3 and found[0].id == "doc-0" and found[0].metadata["topic"] == "geography"

    compressor = FlagcoreRerank(tiny_reranker, top_n=2)
    best = compressor.compress_documents(found, QUERY)
    order, scores = _library_order(tiny_reranker, QUERY, [d.page_content for d in found])
    assert [d.id for d in best] == [found[i].id for i in order[:2]]
    assert [d.metadata[RELEVANCE_SCORE] for d in best] == scores[:2]
    assert all(d.metadata["topic"] == found[i].metadata["topic"] for d, i in zip(best, order, strict=False))

    async def asynchronously():
        return await compressor.acompress_documents(await retriever.ainvoke(QUERY), QUERY)

    assert asyncio.run(asynchronously()) == best
