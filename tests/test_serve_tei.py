"""flagcore-serve's Hugging Face text-embeddings-inference (TEI) API against a real server on 127.0.0.1: every route
with huggingface_hub's InferenceClient and raw httpx calls, answers equal to the library's (within 1e-5), TEI's
error bodies and status codes, and the model chosen by the body's ``model`` field or the ``X-Model`` header."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("flagcore_serve")
httpx = pytest.importorskip("httpx")

from serve_helpers import LiveServer  # noqa: E402

from flagcore import FlagAutoModel, FlagAutoReranker  # noqa: E402

TOL = 1e-5
TEXTS = ["What is the capital of France?", "Paris is the capital of France.", "pandas eat bamboo",
         "a longer sentence about retrieval, embeddings and rerankers which must still come back in order " * 2,
         "hello world", "x", "", "  leading and trailing spaces  "]
LONG = "word " * 300  # over MiniLM's 256 tokens


@pytest.fixture(scope="module")
def prompted_dir(tiny_models, tmp_path_factory):
    """MiniLM (linked) with a declared ``query`` prompt, for ``prompt_name``."""
    folder = tmp_path_factory.mktemp("prompted") / "prompted-minilm"
    folder.mkdir()
    source = tiny_models["minilm"]
    for entry in os.listdir(source):
        if entry != "config_sentence_transformers.json":
            os.symlink(os.path.join(source, entry), folder / entry)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    return folder


@pytest.fixture(scope="module")
def served(tiny_models, prompted_dir):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(max_inputs=16, max_chars=5000)
    specs = [f"minilm={tiny_models['minilm']}", f"m3={tiny_models['tiny-m3']}",
             f"rr={tiny_models['tiny-bert-reranker']}", f"prompted={prompted_dir}"]
    with LiveServer(create_app(load_models(specs, settings, devices="cpu"), settings)) as server:
        yield server


@pytest.fixture(scope="module")
def library(tiny_models, prompted_dir):
    return {"minilm": FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu"),
            "m3": FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu"),
            "rr": FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu"),
            "prompted": FlagAutoModel.from_finetuned(str(prompted_dir), devices="cpu")}


@pytest.fixture
def client(served, monkeypatch):
    """huggingface_hub's client on the server (the tests run offline: let it reach 127.0.0.1)."""
    from huggingface_hub import InferenceClient, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return InferenceClient(model=served.url, provider="hf-inference")


def post(server, path, body, **kwargs):
    if isinstance(body, bytes):
        return httpx.post(server.url + path, content=body, timeout=60, **kwargs)
    return httpx.post(server.url + path, json=body, timeout=60, **kwargs)


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def close(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and np.abs(got - want).max() <= TOL


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- embeddings -----------------------------------------------------------------------------------------------------
def test_embed_equals_encode_corpus(served, library):
    expected = library["minilm"].encode_corpus(TEXTS)
    assert close(ok(post(served, "/embed", {"inputs": TEXTS})), expected)
    assert close(ok(post(served, "/embed", {"inputs": TEXTS[0]})), expected[:1])  # one string: still a list
    assert close(ok(post(served, "/", {"inputs": TEXTS})), expected)  # the root embeds for an embedder
    assert close(ok(post(served, "/embed", {"inputs": TEXTS, "normalize": False})), expected)  # unit already
    m3 = library["m3"].encode_corpus(TEXTS)["dense_vecs"]
    assert close(ok(post(served, "/embed", {"inputs": TEXTS, "model": "m3"})), m3)


def test_dimensions_and_normalize(served, library):
    full = library["minilm"].encode_corpus(TEXTS[:3])
    short = np.array(ok(post(served, "/embed", {"inputs": TEXTS[:3], "dimensions": 64})))
    assert close(short, full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True))
    raw = ok(post(served, "/embed", {"inputs": TEXTS[:3], "dimensions": 64, "normalize": False}))
    assert close(raw, full[:, :64])
    assert close(ok(post(served, "/embed", {"inputs": TEXTS[:3], "dimensions": 384})), full)


def test_prompt_name(served, library):
    lib = library["prompted"]
    got = ok(post(served, "/embed", {"inputs": TEXTS[:3], "model": "prompted", "prompt_name": "query"}))
    assert close(got, lib.encode_corpus(["query: " + t for t in TEXTS[:3]]))
    assert close(got, lib.encode_corpus(TEXTS[:3], prompt_name="query"))
    plain = ok(post(served, "/embed", {"inputs": TEXTS[:3], "model": "prompted"}))
    assert close(plain, lib.encode_corpus(TEXTS[:3])) and not close(plain, got)


def test_the_huggingface_hub_client(client, library):
    expected = library["minilm"].encode_corpus(TEXTS)
    assert close(client.feature_extraction(TEXTS), expected)
    assert close(client.feature_extraction(TEXTS[1]), expected[1:2])
    assert close(client.feature_extraction(TEXTS[:2], dimensions=32, normalize=True),
                 expected[:2, :32] / np.linalg.norm(expected[:2, :32], axis=1, keepdims=True))
    assert close(client.feature_extraction(LONG, truncate=True), library["minilm"].encode_corpus([LONG]))
    scores = client.sentence_similarity(TEXTS[0], TEXTS[1:5])
    assert close(scores, [cosine(expected[0], expected[i]) for i in range(1, 5)])
    info = client.get_endpoint_info()
    assert info["model_type"] == {"embedding": {"pooling": "mean"}} and info["max_input_length"] == 256
    assert client.health_check()


def test_the_client_gets_teis_errors(client):
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as caught:
        client.feature_extraction(LONG)
    assert caught.value.response.status_code == 422
    assert caught.value.response.json()["error_type"] == "Validation"


def test_similarity(served, library):
    expected = library["minilm"].encode_corpus(TEXTS[:4])
    body = {"inputs": {"source_sentence": TEXTS[0], "sentences": TEXTS[1:4]}}
    want = [cosine(expected[0], expected[i]) for i in range(1, 4)]
    assert close(ok(post(served, "/similarity", body)), want)
    assert close(ok(post(served, "/", body)), want)  # TEI's root with a similarity body
    m3 = library["m3"].encode_corpus(TEXTS[:4])["dense_vecs"]
    got = ok(post(served, "/similarity", {**body, "parameters": {"truncate": True}}, headers={"X-Model": "m3"}))
    assert close(got, [cosine(m3[0], m3[i]) for i in range(1, 4)])


def test_embed_sparse_equals_m3s_lexical_weights(served, library):
    expected = library["m3"].encode(TEXTS, return_dense=False, return_sparse=True)["lexical_weights"]
    got = ok(post(served, "/embed_sparse", {"inputs": TEXTS, "model": "m3"}))
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert [v["index"] for v in row] == sorted(int(t) for t in want)
        assert all(abs(v["value"] - float(want[str(v["index"])])) <= TOL for v in row)
    (one,) = ok(post(served, "/embed_sparse", {"inputs": TEXTS[2]}, headers={"X-Model": "m3"}))
    assert [v["index"] for v in one] == [v["index"] for v in got[2]]
    assert close([v["value"] for v in one], [v["value"] for v in got[2]])


def test_embed_all_gives_token_vectors_or_colbert_vectors(served, library):
    lib = library["minilm"]
    expected = lib.infer(lib.prepare_corpus(TEXTS, outputs={"token_embeddings"})).token_embeddings
    got = ok(post(served, "/embed_all", {"inputs": TEXTS}))
    assert len(got) == len(TEXTS) and all(close(g, w) for g, w in zip(got, expected, strict=True))
    assert len(got[6]) == 2  # "": [CLS] and [SEP], every real token as TEI gives them
    colbert = library["m3"].encode(TEXTS, return_dense=False, return_colbert_vecs=True)["colbert_vecs"]
    got = ok(post(served, "/embed_all", {"inputs": TEXTS, "model": "m3"}))
    assert all(close(g, w) for g, w in zip(got, colbert, strict=True))


def test_truncation(served, library):
    lib = library["minilm"]
    assert close(ok(post(served, "/embed", {"inputs": [LONG, "x"], "truncate": True})),
                 lib.encode_corpus([LONG, "x"]))
    head_and_tail = "alpha " * 20 + "beta " * 300
    left = ok(post(served, "/embed", {"inputs": head_and_tail, "truncate": True, "truncation_direction": "Left"}))
    assert close(left, lib.encode_corpus(["beta " * 254]))  # the last 254 tokens, between [CLS] and [SEP]
    right = ok(post(served, "/embed", {"inputs": head_and_tail, "truncate": True, "truncation_direction": "right"}))
    assert close(right, lib.encode_corpus([head_and_tail])) and not close(right, left)
    fits = "word " * 254  # 256 tokens with [CLS] and [SEP]: not over the limit
    assert close(ok(post(served, "/embed", {"inputs": fits})), lib.encode_corpus([fits]))


# -- rerank ---------------------------------------------------------------------------------------------------------
def test_tei_rerank_equals_compute_score(served, library):
    query, docs = TEXTS[0], TEXTS[1:]
    pairs = [(query, d) for d in docs]
    squashed = library["rr"].compute_score(pairs, normalize=True)
    raw = library["rr"].compute_score(pairs)
    got = ok(post(served, "/rerank", {"query": query, "texts": docs, "model": "rr", "return_text": True}))
    assert [r["index"] for r in got] == sorted(range(len(docs)), key=lambda i: -squashed[i])
    assert all(abs(r["score"] - squashed[r["index"]]) <= TOL and r["text"] == docs[r["index"]] for r in got)
    got = ok(post(served, "/rerank", {"query": query, "texts": docs, "raw_scores": True},
                  headers={"X-Model": "rr"}))
    assert all(set(r) == {"index", "score"} and abs(r["score"] - raw[r["index"]]) <= TOL for r in got)
    assert ok(post(served, "/", {"query": query, "texts": docs, "raw_scores": True}, headers={"X-Model": "rr"})) == got


def test_cohere_rerank_is_unchanged_on_the_same_path(served):
    body = ok(post(served, "/rerank", {"query": "q", "documents": ["a", "b"]}))
    assert body["object"] == "rerank" and body["model"] == "rr" and len(body["results"]) == 2


def test_rerank_truncation(served, library):
    long_doc = "word " * 600
    refused = post(served, "/rerank", {"query": "q", "texts": [long_doc], "model": "rr"})
    assert refused.status_code == 422 and "must have less than 512 tokens" in refused.json()["error"]
    got = ok(post(served, "/rerank", {"query": "q", "texts": [long_doc, "x"], "model": "rr", "truncate": True,
                                      "raw_scores": True}))
    raw = library["rr"].compute_score([("q", long_doc), ("q", "x")])
    assert all(abs(r["score"] - raw[r["index"]]) <= TOL for r in got)


# -- tokenizer routes and info --------------------------------------------------------------------------------------
def test_tokenize_and_decode(served, library):
    text = "héllo 这是 world"
    (tokens,) = ok(post(served, "/tokenize", {"inputs": text}))
    assert [t["id"] for t in tokens] == library["minilm"].tokenizer(text)["input_ids"]
    assert tokens[0] == {"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None}
    assert tokens[-1]["special"] and tokens[-1]["start"] is None
    for t in tokens[1:-1]:  # TEI's offsets are UTF-8 byte offsets into the text
        assert not t["special"] and text.encode()[t["start"]:t["stop"]].decode() == t["text"]
    assert tokens[1]["text"] == "héllo" and (tokens[1]["start"], tokens[1]["stop"]) == (0, 6)
    plain = ok(post(served, "/tokenize", {"inputs": [text, "x"], "add_special_tokens": False}))
    assert plain[0] == tokens[1:-1] and len(plain) == 2
    (prompted,) = ok(post(served, "/tokenize", {"inputs": "hi", "prompt_name": "query", "model": "prompted"}))
    assert [t["text"] for t in prompted] == ["[CLS]", "query", ":", "hi", "[SEP]"]
    ids = [t["id"] for t in tokens]
    assert ok(post(served, "/decode", {"ids": ids})) == ["hello world"]  # [UNK] is special too
    assert ok(post(served, "/decode", {"ids": [ids, ids[:2]], "skip_special_tokens": False})) == [
        "[CLS] hello [UNK] [UNK] world [SEP]", "[CLS] hello"]


def test_info_of_the_chosen_model(served):
    info = httpx.get(served.url + "/info").json()
    assert info["model_id"].endswith("model") and info["served_model_name"] == "minilm"
    assert info["model_type"] == {"embedding": {"pooling": "mean"}} and info["max_input_length"] == 256
    assert info["max_client_batch_size"] == 16 and info["auto_truncate"] is False and info["model_dtype"] == "float32"
    rr = httpx.get(served.url + "/info", headers={"X-Model": "rr"}).json()
    assert rr["served_model_name"] == "rr" and rr["max_input_length"] == 512
    assert rr["model_type"] == {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
    m3 = httpx.get(served.url + "/info", headers={"X-Model": "m3"}).json()
    assert m3["model_type"] == {"embedding": {"pooling": "cls"}}


def test_the_body_field_wins_over_the_header(served, library):
    got = ok(post(served, "/embed", {"inputs": TEXTS[:2], "model": "minilm"}, headers={"X-Model": "m3"}))
    assert close(got, library["minilm"].encode_corpus(TEXTS[:2]))
    got = ok(post(served, "/embed", {"inputs": TEXTS[:2]}, headers={"X-Model": "m3"}))
    assert close(got, library["m3"].encode_corpus(TEXTS[:2])["dense_vecs"])


def test_token_vectors_are_a_served_output(served):
    models = {m["id"]: m for m in httpx.get(served.url + "/v1/models").json()["data"]}
    assert models["minilm"]["outputs"] == ["dense", "token_embeddings"]
    assert models["m3"]["outputs"] == ["colbert", "dense", "sparse"]


# -- errors ---------------------------------------------------------------------------------------------------------
ERRORS = [
    ("/embed", {"inputs": LONG}, {}, 422, "Validation",
     "Input validation error: `inputs` must have less than 256 tokens. Given: 302"),
    ("/embed", {"inputs": [], "model": "m3"}, {}, 400, "Empty", "`inputs` cannot be empty"),
    ("/embed", {"inputs": ["a"] * 17}, {}, 422, "Validation", "batch size 17 > maximum allowed batch size 16"),
    ("/embed", {"inputs": "a" * 5001}, {}, 422, "Validation", "must have less than 5000 characters"),
    ("/embed", {"inputs": [1, 2]}, {}, 422, "Validation", "token ids"),
    ("/embed", {}, {}, 422, "Validation", "`inputs` is required"),
    ("/embed", {"inputs": "a", "dimensions": 0}, {}, 422, "Validation", "`dimensions` should be positive"),
    ("/embed", {"inputs": "a", "dimensions": 385}, {}, 422, "Validation", "smaller than the maximum embedding"),
    ("/embed", {"inputs": "a", "truncation_direction": "up"}, {}, 422, "Validation", "'Left' or 'Right'"),
    ("/embed", {"inputs": "a", "normalize": "yes"}, {}, 422, "Validation", "`normalize` must be true or false"),
    ("/embed", {"inputs": "a", "prompt_name": "nope"}, {}, 422, "Validation", "no prompt of that name"),
    ("/embed", {"inputs": "a", "prompt_name": "nope", "truncate": True}, {}, 422, "Validation", "no prompt"),
    ("/embed", {"inputs": "a", "model": "rr"}, {}, 424, "Backend", "Backend error: Model is not an embedding model"),
    ("/embed", {"inputs": "a"}, {"X-Model": "rr"}, 424, "Backend", "Model is not an embedding model"),
    ("/embed", {"inputs": "a", "model": "nope"}, {}, 422, "Validation", "the model 'nope' is not served"),
    ("/embed", {"inputs": "a"}, {"X-Model": "nope"}, 422, "Validation", "the model 'nope' is not served"),
    ("/embed", b'{"inputs": ', {}, 400, "Validation", "not valid JSON"),
    ("/embed_sparse", {"inputs": "a"}, {}, 424, "Backend", "sparse output"),
    ("/embed_all", {"inputs": "a", "model": "rr"}, {}, 424, "Backend", "Model is not an embedding model"),
    ("/rerank", {"query": "q", "texts": ["a"]}, {}, 424, "Backend", "Backend error: model is not a re-ranker model"),
    ("/rerank", {"query": "q", "texts": [], "model": "rr"}, {}, 400, "Empty", "`texts` cannot be empty"),
    ("/rerank", {"query": "q", "texts": ["a"] * 17, "model": "rr"}, {}, 422, "Validation", "batch size 17"),
    ("/rerank", {"texts": ["a"], "model": "rr"}, {}, 422, "Validation", "`query` is required"),
    ("/similarity", {"inputs": {"source_sentence": "a", "sentences": []}}, {}, 400, "Empty",
     "`inputs.sentences` cannot be empty"),
    ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"] * 16}}, {}, 422, "Validation",
     "batch size 17 > maximum allowed batch size 16"),
    ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"]}}, {"X-Model": "rr"}, 424, "Backend",
     "Model is not an embedding model"),
    ("/", {"inputs": "a"}, {"X-Model": "rr"}, 422, "Validation", "`query` is required"),
    ("/tokenize", {"inputs": []}, {}, 400, "Empty", "`inputs` cannot be empty"),
    ("/decode", {"ids": [1, -1]}, {}, 422, "Validation", "non-negative integers"),
    ("/decode", {"ids": "abc"}, {}, 422, "Validation", "`ids` must be an array"),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "kind", "message"), ERRORS,
                         ids=[f"{p} {m[:40]}" for p, _, _, _, _, m in ERRORS])
def test_errors_are_teis(served, path, body, headers, status, kind, message):
    response = post(served, path, body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error", "error_type"} and error["error_type"] == kind and message in error["error"]


def test_a_bearer_token_guards_the_tei_routes(tiny_models):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(api_key="s3cret")
    with LiveServer(create_app(load_models([str(tiny_models["tiny-bert"])], settings, devices="cpu"),
                               settings)) as server:
        refused = post(server, "/embed", {"inputs": "a"})
        assert refused.status_code == 401 and set(refused.json()) == {"error", "error_type"}
        assert httpx.get(server.url + "/info").status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert post(server, "/embed", {"inputs": "a"}, headers=headers).status_code == 200
        assert httpx.get(server.url + "/info", headers=headers).status_code == 200
