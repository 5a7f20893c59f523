"""flagcore-llamaindex: FlagcoreEmbedding, FlagcoreSparseEmbedding and FlagcoreRerank inside a real LlamaIndex
pipeline (VectorStoreIndex, retriever, query engine), with real models and no network."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("flagcore_llamaindex")

from flagcore_llamaindex import FlagcoreEmbedding, FlagcoreRerank, FlagcoreSparseEmbedding  # noqa: E402
from llama_index.core import Document, Settings, VectorStoreIndex  # noqa: E402
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.node_parser import SentenceSplitter  # noqa: E402
from llama_index.core.postprocessor.types import BaseNodePostprocessor  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode  # noqa: E402

from flagcore.integration import embedder_from, reranker_from, sparse_vectors  # noqa: E402

TEXTS = ["The cat sits on the mat.", "Paris is the capital of France.", "A dog runs in the park.",
         "Giant pandas eat bamboo."]
DOCS = [
    ("Paris is the capital and largest city of France.", "geography"),
    ("Giant pandas live in China and eat almost nothing but bamboo.", "animals"),
    ("Python is a programming language used for machine learning.", "computing"),
    ("The Nile is a long river flowing north through Egypt.", "geography"),
]
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Any name lookup or TCP/IP connection (a tiktoken or NLTK download, a hub lookup, an OpenAI default) fails the
    test. Module-scoped, so that the module-scoped models and index are built under it too."""
    real_connect = socket.socket.connect

    def refuse(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access attempted: {address!r}")
        return real_connect(sock, address)

    def no_lookup(host, *args, **kwargs):
        raise AssertionError(f"network access attempted: name lookup of {host!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "getaddrinfo", no_lookup)
        yield


@pytest.fixture(scope="module")
def tiny_bert(tiny_models):
    return embedder_from(str(tiny_models["tiny-bert"]))


@pytest.fixture(scope="module")
def cross_encoder(tiny_models):
    return reranker_from(str(tiny_models["tiny-bert-reranker"]))


@pytest.fixture(scope="module")
def minilm():
    from parity.tiny_models import minilm_dir

    return embedder_from(str(minilm_dir()))


@pytest.fixture(scope="module")
def index(minilm):
    """A VectorStoreIndex over DOCS (with metadata), embedded by FlagcoreEmbedding(MiniLM); explicit
    transformations and embed_model, so Settings' OpenAI defaults are never resolved."""
    documents = [Document(text=text, metadata={"topic": topic}) for text, topic in DOCS]
    splitter = SentenceSplitter(chunk_size=256, chunk_overlap=0)
    return VectorStoreIndex.from_documents(documents, embed_model=FlagcoreEmbedding(minilm),
                                           transformations=[splitter])


def _f32(vectors):
    return np.asarray(vectors, dtype=np.float32)


def _library_order(reranker, query, nodes, **options):
    """(scores in node order, node positions best first) as the library's compute_score gives them."""
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    scores = reranker.compute_score([(query, text) for text in texts], **options)
    return scores, list(np.argsort(-np.asarray(scores), kind="stable"))


def _nodes(texts, **metadata):
    return [NodeWithScore(node=TextNode(text=text, metadata=metadata), score=0.0) for text in texts]


# -- FlagcoreEmbedding -------------------------------------------------------------------------------------------
def test_vectors_equal_encode_queries_and_encode_corpus_with_the_query_instruction(tiny_models):
    embed = FlagcoreEmbedding(str(tiny_models["tiny-bert"]), query_instruction_for_retrieval="Represent: ",
                              embed_batch_size=3, batch_size=2)
    model = embed.flagcore_model
    assert (model.query_instruction_for_retrieval, model.batch_size, embed.embed_batch_size) == ("Represent: ", 2, 3)
    np.testing.assert_array_equal(_f32(embed.get_query_embedding(TEXTS[0])), model.encode_queries([TEXTS[0]])[0])
    np.testing.assert_array_equal(_f32(embed.get_text_embedding(TEXTS[0])), model.encode_corpus([TEXTS[0]])[0])
    # four texts in LlamaIndex batches of three: two flagcore calls, the same vectors
    np.testing.assert_array_equal(_f32(embed.get_text_embedding_batch(TEXTS)),
                                  np.concatenate([model.encode_corpus(TEXTS[:3]), model.encode_corpus(TEXTS[3:])]))
    assert not np.allclose(embed.get_query_embedding(TEXTS[0]), embed.get_text_embedding(TEXTS[0]))


def test_async_equals_sync_also_with_concurrent_batches(tiny_bert):
    embed = FlagcoreEmbedding(tiny_bert, embed_batch_size=1, num_workers=2)

    async def both():
        return (await embed.aget_query_embedding(TEXTS[1]), await embed.aget_text_embedding(TEXTS[1]),
                await embed.aget_text_embedding_batch(TEXTS))

    query, text, batch = asyncio.run(both())
    assert query == embed.get_query_embedding(TEXTS[1]) and text == embed.get_text_embedding(TEXTS[1])
    assert batch == embed.get_text_embedding_batch(TEXTS)
    np.testing.assert_array_equal(_f32(batch), np.concatenate([tiny_bert.encode_corpus([t]) for t in TEXTS]))


def test_a_loaded_model_is_used_as_it_is_with_llamaindex_fields_but_not_factory_options(tiny_bert):
    handler = CallbackManager([])
    embed = FlagcoreEmbedding(tiny_bert, embed_batch_size=7, callback_manager=handler)
    assert embed.flagcore_model is tiny_bert and embed.callback_manager is handler and embed.embed_batch_size == 7
    assert embed.model_name == tiny_bert.model_name_or_path
    assert embed.to_dict()["class_name"] == "FlagcoreEmbedding"
    assert FlagcoreEmbedding(tiny_bert, model_name="mine").model_name == "mine"
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreEmbedding(tiny_bert, batch_size=4)
    with pytest.raises(TypeError, match="model name or path"):
        FlagcoreEmbedding(3)


def test_embedding_events_reach_llamaindex_callbacks(tiny_bert):
    debug = LlamaDebugHandler()
    embed = FlagcoreEmbedding(tiny_bert, callback_manager=CallbackManager([debug]))
    embed.get_text_embedding_batch(TEXTS)
    assert len(debug.get_event_pairs(CBEventType.EMBEDDING)) == 1


# -- FlagcoreRerank ----------------------------------------------------------------------------------------------
def test_rerank_scores_every_node_as_compute_score_and_keeps_the_best_top_n(cross_encoder):
    nodes = _nodes(TEXTS, source="notes")  # metadata: the EMBED content, not the bare text, is scored
    scores, order = _library_order(cross_encoder, "cats", nodes)
    best = FlagcoreRerank(cross_encoder, top_n=3).postprocess_nodes(nodes, query_bundle=QueryBundle("cats"))
    assert [n.node.get_content() for n in best] == [TEXTS[i] for i in order[:3]]
    assert [n.score for n in best] == [scores[i] for i in order[:3]]
    assert [n.score for n in nodes] == scores  # the node left out was rescored too
    bare = cross_encoder.compute_score([("cats", text) for text in TEXTS])
    assert not np.allclose(bare, scores)


def test_normalize_gives_the_library_normalized_scores(cross_encoder):
    nodes = _nodes(TEXTS)
    scores, order = _library_order(cross_encoder, "cats", nodes, normalize=True)
    best = FlagcoreRerank(cross_encoder, top_n=4, normalize=True).postprocess_nodes(nodes, query_str="cats")
    assert [n.score for n in best] == [scores[i] for i in order]
    assert all(0 < n.score < 1 for n in best)


def test_flag_embedding_reranker_arguments_are_accepted(tiny_models):
    path = str(tiny_models["tiny-bert-reranker"])
    by_keyword = FlagcoreRerank(top_n=1, model=path, use_fp16=False)
    positional = FlagcoreRerank(path, 1)
    assert (by_keyword.model, by_keyword.top_n, by_keyword.use_fp16) == (path, 1, False)
    assert (positional.model, positional.top_n) == (path, 1)
    assert by_keyword.flagcore_model.use_fp16 is False
    nodes = _nodes(TEXTS)
    assert len(by_keyword.postprocess_nodes(nodes, query_str="dogs")) == 1
    options = FlagcoreRerank(model=path, batch_size=3, max_length=64).flagcore_model
    assert (options.batch_size, options.max_length) == (3, 64)


def test_rerank_refusals_name_the_fix(cross_encoder, tiny_models):
    rerank = FlagcoreRerank(cross_encoder)
    assert rerank.flagcore_model is cross_encoder and rerank.top_n == 2
    with pytest.raises(ValueError, match="needs the query"):
        rerank.postprocess_nodes(_nodes(TEXTS))
    assert rerank.postprocess_nodes([], query_str="cats") == []
    with pytest.raises(TypeError, match="takes the model first"):
        FlagcoreRerank(3, str(tiny_models["tiny-bert-reranker"]))
    with pytest.raises(TypeError, match="already-loaded"):
        FlagcoreRerank(cross_encoder, use_fp16=True)
    with pytest.raises(ValueError, match="greater than 0"):
        FlagcoreRerank(cross_encoder, top_n=0)


def test_the_reranking_event_reaches_llamaindex_callbacks(cross_encoder):
    debug = LlamaDebugHandler()
    rerank = FlagcoreRerank(cross_encoder, top_n=2, callback_manager=CallbackManager([debug]))
    rerank.postprocess_nodes(_nodes(TEXTS), query_str="pandas")
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1


@pytest.mark.skipif(not hasattr(BaseNodePostprocessor, "apostprocess_nodes"),
                    reason="async node postprocessing came with llama-index-core 0.12.31")
def test_async_rerank_equals_sync(cross_encoder):
    rerank = FlagcoreRerank(cross_encoder, top_n=2)
    sync = rerank.postprocess_nodes(_nodes(TEXTS), query_str="pandas")
    best = asyncio.run(rerank.apostprocess_nodes(_nodes(TEXTS), query_str="pandas"))
    assert [(n.node.get_content(), n.score) for n in best] == [(n.node.get_content(), n.score) for n in sync]


# -- a real LlamaIndex pipeline -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_index_retrieves_the_right_document_first_with_the_librarys_passage_vectors(index, minilm):
    before = (Settings._llm, Settings._embed_model)
    retrieved = index.as_retriever(similarity_top_k=3).retrieve(QUESTION)
    assert "Paris" in retrieved[0].node.get_content()
    # every node was embedded in one LlamaIndex batch (4 < embed_batch_size): the library's corpus vectors of them
    nodes = list(index.docstore.docs.values())
    expected = minilm.encode_corpus([node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes])
    stored = [index.vector_store.get(node.node_id) for node in nodes]
    np.testing.assert_array_equal(_f32(stored), expected)
    assert (Settings._llm, Settings._embed_model) == before  # no default LLM or embedding model was resolved


@pytest.mark.slow
def test_retrieved_nodes_reranked_as_the_library_ranks_them(index, cross_encoder):
    retrieved = index.as_retriever(similarity_top_k=4).retrieve(QUESTION)
    scores, order = _library_order(cross_encoder, QUESTION, retrieved)
    best = FlagcoreRerank(cross_encoder, top_n=2).postprocess_nodes(retrieved, query_str=QUESTION)
    assert [n.node.node_id for n in best] == [retrieved[i].node.node_id for i in order[:2]]
    assert [n.score for n in best] == [scores[i] for i in order[:2]]


@pytest.mark.slow
def test_query_engine_with_the_reranker_as_node_postprocessor(index, cross_encoder):
    before = Settings._llm
    # MockLLM given explicitly: response_mode="no_text" would resolve Settings.llm (OpenAI) in llama-index-core 0.14
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=4,
                                   node_postprocessors=[FlagcoreRerank(cross_encoder, top_n=2)])
    response = engine.query(QUESTION)
    retrieved = index.as_retriever(similarity_top_k=4).retrieve(QUESTION)
    scores, order = _library_order(cross_encoder, QUESTION, retrieved)
    assert [n.node.node_id for n in response.source_nodes] == [retrieved[i].node.node_id for i in order[:2]]
    assert [n.score for n in response.source_nodes] == [scores[i] for i in order[:2]]
    again = asyncio.run(engine.aquery(QUESTION))
    assert [n.node.node_id for n in again.source_nodes] == [n.node.node_id for n in response.source_nodes]
    assert Settings._llm is before


# -- FlagcoreSparseEmbedding --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sparse_vectors_equal_the_shared_helper_and_share_the_model_with_dense(tiny_models):
    sparse = FlagcoreSparseEmbedding(str(tiny_models["tiny-m3"]), embed_batch_size=2,
                                     query_instruction_for_retrieval="Represent: ")
    m3 = sparse.flagcore_model
    assert (m3.query_instruction_for_retrieval, sparse.embed_batch_size) == ("Represent: ", 2)

    def helper(texts, query):
        return [dict(zip(v.indices, v.values, strict=True)) for v in sparse_vectors(m3, texts, query=query)]

    assert sparse.get_query_embedding(TEXTS[0]) == helper(TEXTS[:1], True)[0]
    assert sparse.get_text_embedding(TEXTS[0]) == helper(TEXTS[:1], False)[0]
    assert sparse.get_text_embedding_batch(TEXTS) == helper(TEXTS[:2], False) + helper(TEXTS[2:], False)
    assert sparse.get_query_embedding(TEXTS[0]) != sparse.get_text_embedding(TEXTS[0])
    assert asyncio.run(sparse.aget_text_embedding_batch(TEXTS)) == sparse.get_text_embedding_batch(TEXTS)
    assert asyncio.run(sparse.aget_query_embedding(TEXTS[0])) == sparse.get_query_embedding(TEXTS[0])
    dense = FlagcoreEmbedding(m3)
    np.testing.assert_array_equal(_f32(dense.get_query_embedding(TEXTS[0])),
                                  m3.encode_queries([TEXTS[0]])["dense_vecs"][0])
    assert sparse.similarity(sparse.get_query_embedding(TEXTS[1]), sparse.get_text_embedding(TEXTS[1])) > 0


def test_a_dense_only_model_is_refused_when_the_sparse_embedding_is_built(tiny_bert):
    with pytest.raises(ValueError, match="gives no sparse vectors"):
        FlagcoreSparseEmbedding(tiny_bert)
