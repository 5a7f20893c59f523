"""langchain-openai's ``OpenAIEmbeddings`` (what LangChain users wire to an OpenAI-compatible server), unmodified,
against flagcore-serve on 127.0.0.1: the library's passage vectors for documents and for queries (the client sends
no side, so both are passages), in order, within 1e-5, also through its async pair."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("flagcore_serve")
langchain_openai = pytest.importorskip("langchain_openai")

from serve_helpers import LiveServer  # noqa: E402

from flagcore import FlagAutoModel  # noqa: E402

TEXTS = ["What is the capital of France?", "Paris is the capital of France.", "pandas eat bamboo", "x"]


@pytest.fixture(scope="module")
def served(tiny_models):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings()
    with LiveServer(create_app(load_models([f"minilm={tiny_models['minilm']}"], settings, devices="cpu"),
                               settings)) as server:
        yield server


@pytest.fixture(scope="module")
def embeddings(served):
    # check_embedding_ctx_length=False: the client would otherwise send tiktoken ids, which only OpenAI's models read
    return langchain_openai.OpenAIEmbeddings(model="minilm", base_url=served.url + "/v1", api_key="unused",
                                             check_embedding_ctx_length=False, max_retries=0)


def test_documents_and_queries_are_the_librarys_vectors(embeddings, tiny_models):
    library = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    expected = library.encode_corpus(TEXTS)
    np.testing.assert_allclose(np.array(embeddings.embed_documents(TEXTS)), expected, atol=1e-5)
    np.testing.assert_allclose(np.array(embeddings.embed_query(TEXTS[0])), expected[0], atol=1e-5)
    np.testing.assert_allclose(np.array(asyncio.run(embeddings.aembed_documents(TEXTS))), expected, atol=1e-5)
