"""flagcore-serve's Cohere v2 API (``/v2/embed``, ``/v2/rerank``) against a real server on 127.0.0.1, called by the
official ``cohere.ClientV2`` (and ``cohere.Client`` for v1 rerank); and ``prompt_name`` on the OpenAI route, called
by the ``openai`` client. Outputs are compared with the library's own calls on the same models."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flagcore_serve")
cohere = pytest.importorskip("cohere")
httpx = pytest.importorskip("httpx")

from serve_helpers import LiveServer  # noqa: E402

from flagcore import FlagAutoModel, FlagAutoReranker  # noqa: E402
from flagcore.embedding_precision import quantize_embeddings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "tests" / "st_format" / "models" / "bert-prompts"  # prompts: classification, document, query
TOL = 1e-5
TEXTS = ["What is the capital of France?", "Paris is the capital of France.", "pandas eat bamboo",
         "a longer sentence about retrieval, embeddings and rerankers, which must come back in order", "x", ""]
# bert-prompts' tokenizer reads one token per letter: 100 tokens, past its 64-token limit
LETTERS = [chr(ord("a") + i % 26) for i in range(100)]
LONG = " ".join(LETTERS)
WORDS = "the cat sat on the mat and the dog ran in the park".split()  # one WordPiece token each


@pytest.fixture(scope="module")
def served(tiny_models):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(max_inputs=64, max_chars=5000)
    specs = [f"minilm={tiny_models['minilm']}", f"prompts={PROMPTS}", f"rr={tiny_models['tiny-bert-reranker']}"]
    models = load_models(specs, settings, devices="cpu")
    with LiveServer(create_app(models, settings)) as server:
        yield server


@pytest.fixture(scope="module")
def library(tiny_models):
    return {"minilm": FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu"),
            "prompts": FlagAutoModel.from_finetuned(str(PROMPTS), devices="cpu"),
            "rr": FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")}


@pytest.fixture(scope="module")
def co(served):
    return cohere.ClientV2(base_url=served.url, api_key="x", max_retries=0)


def floats(response):
    return np.array(response.embeddings.float_, dtype=np.float64)


# -- /v2/embed --------------------------------------------------------------------------------------------------
def test_embed_floats_equal_the_library_on_each_side(co, library):
    for name in ("minilm", "prompts"):
        lib = library[name]
        docs = co.embed(texts=TEXTS, model=name, input_type="search_document", embedding_types=["float"])
        assert np.abs(floats(docs) - lib.encode_corpus(TEXTS)).max() <= TOL
        queries = co.embed(texts=TEXTS, model=name, input_type="search_query", embedding_types=["float"])
        assert np.abs(floats(queries) - lib.encode_queries(TEXTS)).max() <= TOL
    # bert-prompts' query and document prompts differ, so the sides do too
    assert np.abs(floats(queries) - floats(docs)).max() > 1e-3
    assert docs.id and docs.texts == TEXTS and docs.response_type == "embeddings_by_type"
    assert docs.meta.api_version.version == "2" and docs.meta.billed_units.input_tokens > len(TEXTS)


def test_every_embedding_type(co, library):
    types = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    response = co.embed(texts=TEXTS, model="minilm", input_type="search_document", embedding_types=types)
    got = response.embeddings
    reference = library["minilm"].encode_corpus(TEXTS)
    served_floats = np.array(got.float_, dtype=np.float32)
    assert np.abs(served_floats - reference).max() <= TOL
    for kind in ("int8", "uint8", "binary", "ubinary"):
        values = np.array(getattr(got, kind))
        # the library's quantization, of the served floats exactly and of the library's own (equal but for
        # float rounding at a step's edge)
        assert np.array_equal(values, quantize_embeddings(served_floats, kind)), kind
        expected = quantize_embeddings(reference, kind).astype(np.int64)
        assert np.mean(values == expected) > 0.99 and np.abs(values - expected).max() <= 1, kind
    assert np.array(got.binary).shape == (len(TEXTS), 384 // 8) and np.array(got.uint8).max() == 255
    decoded = np.array([np.frombuffer(base64.b64decode(s), dtype="<f4") for s in got.base64])
    assert np.array_equal(decoded, served_floats)


def test_embedding_types_default_to_float_and_int8_needs_several_texts(co, served):
    response = httpx.post(served.url + "/v2/embed", json={"texts": ["hello"], "model": "minilm",
                                                          "input_type": "search_query"}, timeout=60)
    assert response.status_code == 200 and set(response.json()["embeddings"]) == {"float"}
    with pytest.raises(cohere.BadRequestError) as caught:
        co.embed(texts=["one text"], model="minilm", input_type="search_query", embedding_types=["int8"])
    assert "calibrat" in caught.value.body["message"]
    ones = co.embed(texts=["one text"], model="minilm", input_type="search_query", embedding_types=["ubinary"])
    assert len(ones.embeddings.ubinary[0]) == 48


def test_input_type_picks_the_models_own_prompt(co, library):
    lib = library["prompts"]
    classified = co.embed(texts=TEXTS, model="prompts", input_type="classification", embedding_types=["float"])
    expected = lib.encode(TEXTS, task="document", prompt_name="classification")
    assert np.abs(floats(classified) - expected).max() <= TOL
    assert np.abs(expected - lib.encode_corpus(TEXTS)).max() > 1e-3  # "classify: " is not "passage: "
    # no clustering prompt: the passage side
    clustered = co.embed(texts=TEXTS, model="prompts", input_type="clustering", embedding_types=["float"])
    assert np.abs(floats(clustered) - lib.encode_corpus(TEXTS)).max() <= TOL
    plain = co.embed(texts=TEXTS, model="minilm", input_type="classification", embedding_types=["float"])
    assert np.abs(floats(plain) - library["minilm"].encode_corpus(TEXTS)).max() <= TOL


def test_output_dimension_truncates_and_renormalizes(co, library):
    short = co.embed(texts=TEXTS[:4], model="minilm", input_type="search_document", embedding_types=["float"],
                     output_dimension=64)
    full = library["minilm"].encode_corpus(TEXTS[:4])[:, :64]
    expected = full / np.linalg.norm(full, axis=1, keepdims=True)
    assert floats(short).shape == (4, 64) and np.abs(floats(short) - expected).max() <= TOL
    with pytest.raises(cohere.BadRequestError) as caught:
        co.embed(texts=["x"], model="minilm", input_type="search_document", output_dimension=4096)
    assert "'output_dimension' is 4096" in caught.value.body["message"]


def test_truncate_none_start_end_and_max_tokens(co, library):
    lib = library["prompts"]

    def embed(texts, **kwargs):
        return floats(co.embed(texts=texts, model="prompts", input_type="search_document",
                               embedding_types=["float"], **kwargs))

    # 64 tokens: [CLS] "passage" ":" [SEP] leave 60 for the text
    assert np.abs(embed([LONG]) - lib.encode_corpus([LONG])).max() <= TOL  # END: the model's own truncation
    assert np.abs(embed([LONG], truncate="END") - lib.encode_corpus([" ".join(LETTERS[:60])])).max() <= TOL
    assert np.abs(embed([LONG], truncate="START") - lib.encode_corpus([" ".join(LETTERS[-60:])])).max() <= TOL
    with pytest.raises(cohere.BadRequestError) as caught:
        embed(["short", LONG], truncate="NONE")
    message = caught.value.body["message"]
    assert "texts[1] has 104 tokens" in message and "at most 64" in message
    assert np.abs(embed(TEXTS, truncate="NONE") - lib.encode_corpus(TEXTS)).max() <= TOL
    assert np.abs(embed([LONG], max_tokens=20) - lib.encode_corpus([" ".join(LETTERS[:16])])).max() <= TOL
    assert np.abs(embed([LONG], max_tokens=20, truncate="START")
                  - lib.encode_corpus([" ".join(LETTERS[-16:])])).max() <= TOL
    with pytest.raises(cohere.BadRequestError, match="'max_tokens' is 20"):
        embed([LONG], max_tokens=20, truncate="NONE")


@pytest.mark.parametrize("kwargs, status, message", [
    ({"model": "nope"}, 404, "does not exist"),
    ({"model": "rr"}, 400, "is a reranker"),
    ({"embedding_types": ["float16"]}, 400, "'embedding_types' must be"),
    ({"input_type": "image"}, 400, "'input_type' must be one of"),
    ({"images": ["data:image/png;base64,AAAA"]}, 400, "'images' is not supported"),
    ({"texts": []}, 400, "empty array"),
    ({"truncate": "MIDDLE"}, 400, "'truncate' must be one of"),
])
def test_embed_errors_in_cohere_shape(served, kwargs, status, message):
    body = {"texts": ["hello"], "model": "minilm", "input_type": "search_document", **kwargs}
    response = httpx.post(served.url + "/v2/embed", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"id", "message"} and message in response.json()["message"]


def test_client_errors_carry_the_message(co, served):
    with pytest.raises(cohere.NotFoundError) as caught:
        co.embed(texts=["x"], model="embed-v4.0", input_type="search_query")
    assert "'embed-v4.0' does not exist" in caught.value.body["message"]
    bad_json = httpx.post(served.url + "/v2/rerank", content=b"{not json", timeout=60)  # the body's own check
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["message"]


def test_a_wrong_api_key_is_refused_in_cohere_shape():
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(api_key="secret")
    with LiveServer(create_app(load_models([f"prompts={PROMPTS}"], settings, devices="cpu"), settings)) as server:
        with pytest.raises(cohere.UnauthorizedError) as caught:
            cohere.ClientV2(base_url=server.url, api_key="wrong", max_retries=0).embed(
                texts=["a"], model="prompts", input_type="search_query")
        assert caught.value.body["message"] == "incorrect API key"
        client = cohere.ClientV2(base_url=server.url, api_key="secret", max_retries=0)
        assert len(client.embed(texts=["a"], model="prompts", input_type="search_query").embeddings.float_) == 1


# -- /v2/rerank -------------------------------------------------------------------------------------------------
def test_rerank_equals_the_library(co, library):
    lib = library["rr"]
    query, docs = TEXTS[0], TEXTS[1:]
    expected = [lib.activate(s) for s in lib.compute_score([(query, d) for d in docs])]
    order = sorted(range(len(docs)), key=lambda i: -expected[i])
    response = co.rerank(model="rr", query=query, documents=docs)
    assert [r.index for r in response.results] == order
    assert np.allclose([r.relevance_score for r in response.results], [expected[i] for i in order], atol=1e-6)
    assert response.id and response.meta.tokens.input_tokens > 0
    top = co.rerank(model="rr", query=query, documents=docs, top_n=2)
    assert [r.index for r in top.results] == order[:2]
    assert co.rerank(query=query, documents=docs, model="rr", top_n=50).results[-1].index == order[-1]


def test_rerank_max_tokens_per_doc_cuts_each_document(co, library):
    lib = library["rr"]
    query = "where did the dog run?"
    docs = [" ".join(WORDS), " ".join(WORDS[:3]), " ".join(reversed(WORDS))]
    response = co.rerank(model="rr", query=query, documents=docs, max_tokens_per_doc=4)
    cut = [" ".join(WORDS[:4]), " ".join(WORDS[:3]), " ".join(list(reversed(WORDS))[:4])]
    expected = [lib.activate(s) for s in lib.compute_score([(query, d) for d in cut])]
    assert np.allclose([expected[r.index] for r in response.results], [r.relevance_score for r in response.results],
                       atol=1e-6)
    whole = co.rerank(model="rr", query=query, documents=docs)
    assert {r.index: r.relevance_score for r in whole.results}[0] != pytest.approx(expected[0], abs=1e-6)


def test_rerank_documents_and_refusals(co, served):
    body = {"model": "rr", "query": "q", "documents": ["a", "b"], "return_documents": True}
    results = httpx.post(served.url + "/v2/rerank", json=body, timeout=60).json()["results"]
    assert sorted(r["document"]["text"] for r in results) == ["a", "b"]
    with pytest.raises(cohere.BadRequestError, match="relevant_spans"):
        co.rerank(model="rr", query="q", documents=["a"], relevant_spans={"mode": "enabled"})
    with pytest.raises(cohere.BadRequestError, match="is an embedder"):
        co.rerank(model="minilm", query="q", documents=["a"])


def test_the_v1_cohere_client_still_reranks(served, library):
    lib = library["rr"]
    client = cohere.Client(base_url=served.url, api_key="x", max_retries=0)
    docs = TEXTS[1:]
    response = client.rerank(model="rr", query=TEXTS[0], documents=docs, top_n=3, return_documents=True)
    expected = [lib.activate(s) for s in lib.compute_score([(TEXTS[0], d) for d in docs])]
    assert [r.index for r in response.results] == sorted(range(len(docs)), key=lambda i: -expected[i])[:3]
    assert all(r.document.text == docs[r.index] for r in response.results)


# -- prompt_name on the OpenAI route ----------------------------------------------------------------------------
def test_openai_prompt_name(served, library):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
    lib = library["prompts"]
    result = client.embeddings.create(model="prompts", input=TEXTS, extra_body={"prompt_name": "classification"})
    got = np.array([d.embedding for d in result.data])
    assert np.abs(got - lib.encode(TEXTS, task="document", prompt_name="classification")).max() <= TOL
    queries = client.embeddings.create(model="prompts", input=TEXTS[:2],
                                       extra_body={"prompt_name": "classification", "input_type": "query"})
    assert np.abs(np.array([d.embedding for d in queries.data]) - got[:2]).max() <= TOL
    with pytest.raises(openai.BadRequestError, match="'classification', 'document', 'query'"):
        client.embeddings.create(model="prompts", input="x", extra_body={"prompt_name": "clustering"})
    with pytest.raises(openai.BadRequestError, match="declares no prompts"):
        client.embeddings.create(model="minilm", input="x", extra_body={"prompt_name": "query"})
    with pytest.raises(openai.BadRequestError, match="'prompt_name' must be a string"):
        client.embeddings.create(model="prompts", input="x", extra_body={"prompt_name": 3})
