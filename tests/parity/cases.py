"""Inputs and calls compared between flagcore and FlagEmbedding 1.4.2 (the oracle).

Used by make_references.py (run in FlagEmbedding's own virtualenv) and by the parity tests.
Keep this file free of imports beyond the standard library: both environments load it.
"""

LONG = " ".join(
    f"Sentence {i} of a long passage about retrieval, embeddings and rerankers, which must be truncated."
    for i in range(40)
)

TEXTS = [
    "What is BGE?",
    "",
    "a",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Line one\nline two\n\nline four",
    "北京是中国的首都。",
    "emoji 🙂 test 🚀",
    "Ünïcödé façade naïve café",
    LONG,
    "   leading and trailing spaces   ",
    "tab\tseparated\ttext",
    "mixed 中文 and English 123",
    "repeated repeated repeated words words",
]

QUERIES = [
    "what is the capital of france",
    "how do pandas eat",
    "北京",
    "",
    "emoji 🙂?",
    "a much longer query " * 12,
]

PASSAGES = [
    "Paris is the capital of France.",
    LONG,
    "Giant pandas eat bamboo.",
    "",
    "中国的首都是北京。",
    "short",
]

PAIRS = [[q, p] for q, p in zip(QUERIES, PASSAGES, strict=True)] + [
    [QUERIES[0], PASSAGES[2]],
    [QUERIES[1], PASSAGES[0]],
    ["Line one\nline two", "tab\tseparated\ttext"],
]

BGE_INSTRUCTION = "Represent this sentence for searching relevant passages: "

# (case id, model role, constructor kwargs, method, input name, call kwargs)
EMBEDDER_CASES = [
    ("bert-cls-queries", "tiny-bert", {"query_instruction_for_retrieval": BGE_INSTRUCTION, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("bert-cls-corpus", "tiny-bert", {"passage_max_length": 24, "batch_size": 4}, "encode_corpus", "TEXTS", {}),
    ("bert-mean-unnormalized", "tiny-bert", {"pooling_method": "mean", "normalize_embeddings": False,
                                             "batch_size": 3}, "encode", "TEXTS", {}),
    ("bert-truncate-dim", "tiny-bert", {"truncate_dim": 8}, "encode", "TEXTS", {"max_length": 20}),
    ("bert-single-string", "tiny-bert", {}, "encode", "SINGLE", {}),
    ("bert-passage-instruction", "tiny-bert", {"passage_instruction_for_retrieval": "passage: "},
     "encode_corpus", "PASSAGES", {}),
    ("xlmr-mean-instruct", "tiny-xlmr", {"pooling_method": "mean",
                                         "query_instruction_format": "Instruct: {}\nQuery: {}",
                                         "query_instruction_for_retrieval": "Given a question, retrieve passages"},
     "encode_queries", "QUERIES", {}),
    ("xlmr-cls-encode", "tiny-xlmr", {"batch_size": 5}, "encode", "TEXTS", {"max_length": 16}),
    ("minilm-mean-corpus", "minilm", {"pooling_method": "mean", "batch_size": 4}, "encode_corpus", "TEXTS", {}),
    ("minilm-cls-queries", "minilm", {"pooling_method": "cls", "query_instruction_for_retrieval": "query: ",
                                      "query_max_length": 12},
     "encode_queries", "QUERIES", {}),
]

RERANKER_CASES = [
    ("bert-rerank", "tiny-bert-reranker", {"batch_size": 3}, "compute_score", "PAIRS", {}),
    ("bert-rerank-short-normalized", "tiny-bert-reranker", {"max_length": 32, "normalize": True},
     "compute_score", "PAIRS", {}),
    ("bert-rerank-query-max-length", "tiny-bert-reranker", {"max_length": 40, "query_max_length": 6},
     "compute_score", "PAIRS", {}),
    ("bert-rerank-one-pair", "tiny-bert-reranker", {}, "compute_score", "ONE_PAIR", {}),
    ("bert-rerank-instructions", "tiny-bert-reranker", {"query_instruction_for_rerank": "A: ",
                                                         "passage_instruction_for_rerank": "B: "},
     "compute_score", "PAIRS", {}),
    ("xlmr-rerank", "tiny-xlmr-reranker", {"batch_size": 4}, "compute_score", "PAIRS", {}),
    ("xlmr-rerank-short", "tiny-xlmr-reranker", {"max_length": 32}, "compute_score", "PAIRS", {"normalize": True}),
]

M3_TEXTS = TEXTS + ["the the the repeated repeated tokens tokens", "dog dog dog cat dog"]
ALL_M3_OUTPUTS = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}

M3_ENCODE_CASES = [
    ("m3-all-outputs", "tiny-m3", {"batch_size": 4}, "encode", "M3_TEXTS", ALL_M3_OUTPUTS),
    ("m3-queries-sparse-by-default", "tiny-m3", {"query_instruction_for_retrieval": "Represent: ",
                                                 "return_sparse": True}, "encode_queries", "QUERIES", {}),
    ("m3-corpus-colbert-short", "tiny-m3", {"passage_max_length": 16}, "encode_corpus", "PASSAGES",
     {"return_dense": False, "return_colbert_vecs": True}),
    ("m3-single-string", "tiny-m3", {}, "encode", "SINGLE", ALL_M3_OUTPUTS),
    ("m3-truncate-dim", "tiny-m3", {"truncate_dim": 8}, "encode", "TEXTS", {"return_colbert_vecs": True}),
    ("m3-mean-unnormalized", "tiny-m3", {"pooling_method": "mean", "normalize_embeddings": False}, "encode",
     "TEXTS", ALL_M3_OUTPUTS),
]

# batch_size=1: FlagEmbedding's batched ColBERT score lets padded passage rows into the max (see docs/families/m3.md);
# one pair per batch means no padding, so both libraries must agree exactly.
M3_SCORE_CASES = [
    ("m3-score-default", "tiny-m3", {"batch_size": 1}, "compute_score", "PAIRS", {}),
    ("m3-score-weights", "tiny-m3", {"batch_size": 1}, "compute_score", "PAIRS",
     {"weights_for_different_modes": [0.4, 0.2, 0.4]}),
    ("m3-score-one-pair", "tiny-m3", {}, "compute_score", "ONE_PAIR", {}),
    ("m3-score-short", "tiny-m3", {"batch_size": 1}, "compute_score", "PAIRS",
     {"max_query_length": 8, "max_passage_length": 16}),
]

INPUTS = {
    "M3_TEXTS": M3_TEXTS,
    "TEXTS": TEXTS,
    "QUERIES": QUERIES,
    "PASSAGES": PASSAGES,
    "PAIRS": PAIRS,
    "SINGLE": "One single string.",
    "ONE_PAIR": PAIRS[0],
}
