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

# ---- decoder-only families (flagcore-llm, flagcore-icl) against FlagLLMModel / FlagICLModel / FlagLLMReranker ----
# Models: tests/parity/tiny_decoders.py. The query formats are always passed explicitly: FlagEmbedding's factory
# replaces a class's default format with "{}{}" when model_class= is given, the classes themselves do not.

E5_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
BGE_LLM_INSTRUCTION = "Given a question, retrieve passages that answer the question."
E5_FORMAT = "Instruct: {}\nQuery: {}"  # e5-mistral, SFR, Linq, gte-Qwen2
QWEN3_FORMAT = "Instruct: {}\nQuery:{}"  # Qwen3-Embedding: no space after "Query:"
BGE_LLM_FORMAT = "<instruct>{}\n<query>{}"  # bge-multilingual-gemma2, bge-code-v1, bge-en-icl

TEXTS_NONEMPTY = [t for t in TEXTS if t]  # a tokenizer without BOS/EOS (tiny-qwen2) turns "" into zero tokens

ICL_EXAMPLES = [
    {"instruct": BGE_LLM_INSTRUCTION, "query": "what is a virtual interface",
     "response": "A virtual interface is a software-defined abstraction that mimics a network interface."},
    {"instruct": BGE_LLM_INSTRUCTION, "query": "causes of back pain in female for a week",
     "response": "Back pain that lasts a week can come from a strained muscle, poor posture or a slipped disc."},
]
ICL_EXAMPLES_MISSING_KEYS = [  # the first has no 'instruct', the second no 'response'
    {"query": "summit define", "response": "The highest point of a mountain; the top of a hill."},
    {"instruct": "Retrieve the answer to the question.", "query": "how much protein should a female eat"},
]
# Long queries whose token-level truncation (ICL: max_length - len('<s>') - len(suffix + '</s>')) ends inside words
# and inside multi-byte characters, so that FlagICLModel's decode / re-encode round-trip changes the text.
ICL_LONG_QUERIES = [
    "how do giant pandas digest bamboo when their gut is that of a carnivore and what does it mean " * 3,
    "北京是中国的首都，上海是最大的城市，广州和深圳在南方。" * 4,
    "emoji 🙂🚀🙂🚀🙂🚀 in a query about the capital of France and the rocket launch 🚀 schedule " * 3,
    "Ünïcödé façade naïve café " * 8,
    "short query",
    "",
]

# (case id, model role, constructor kwargs, method, input name, call kwargs) — FlagLLMModel
DECODER_EMBEDDER_CASES = [
    ("llama-queries-e5-format", "tiny-llama", {"query_instruction_for_retrieval": E5_INSTRUCTION,
                                               "query_instruction_format": E5_FORMAT, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("mistral-queries-e5-format-left-padding", "tiny-mistral",
     {"query_instruction_for_retrieval": E5_INSTRUCTION, "query_instruction_format": E5_FORMAT, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("mistral-corpus", "tiny-mistral", {"batch_size": 5}, "encode_corpus", "TEXTS", {}),
    ("llama-encode-max-length", "tiny-llama", {"batch_size": 3}, "encode", "TEXTS", {"max_length": 12}),
    ("mistral-passage-max-length", "tiny-mistral", {"passage_max_length": 16}, "encode_corpus", "PASSAGES", {}),
    ("llama-query-max-length", "tiny-llama", {"query_instruction_for_retrieval": "Represent the query: ",
                                              "query_instruction_format": "{}{}", "query_max_length": 10},
     "encode_queries", "QUERIES", {}),
    ("llama-passage-instruction", "tiny-llama", {"passage_instruction_for_retrieval": "passage: ", "batch_size": 4},
     "encode_corpus", "PASSAGES", {}),
    ("llama-truncate-dim", "tiny-llama", {"truncate_dim": 16}, "encode", "TEXTS", {}),
    ("llama-single-string", "tiny-llama", {}, "encode", "SINGLE", {}),
    ("mistral-unnormalized", "tiny-mistral", {"normalize_embeddings": False, "batch_size": 4}, "encode", "TEXTS", {}),
    ("mistral-backslash-n-format", "tiny-mistral", {"query_instruction_for_retrieval": "Retrieve passages",
                                                    "query_instruction_format": "<instruct>{}\\n<query>{}"},
     "encode_queries", "QUERIES", {}),
    ("qwen2-queries-e5-format", "tiny-qwen2", {"query_instruction_for_retrieval": E5_INSTRUCTION,
                                               "query_instruction_format": E5_FORMAT, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("qwen2-corpus-pad-to-multiple-of-8", "tiny-qwen2", {"batch_size": 3}, "encode_corpus", "TEXTS_NONEMPTY",
     {"pad_to_multiple_of": 8}),
    ("qwen2-encode-max-length", "tiny-qwen2", {"batch_size": 5}, "encode", "TEXTS_NONEMPTY", {"max_length": 8}),
    ("qwen3-queries-qwen3-format", "tiny-qwen3", {"query_instruction_for_retrieval": E5_INSTRUCTION,
                                                  "query_instruction_format": QWEN3_FORMAT, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("qwen3-corpus-eos-appended-truncated", "tiny-qwen3", {"passage_max_length": 20, "batch_size": 5},
     "encode_corpus", "TEXTS", {}),
    ("qwen3-single-query", "tiny-qwen3", {"query_instruction_for_retrieval": E5_INSTRUCTION,
                                          "query_instruction_format": QWEN3_FORMAT},
     "encode_queries", "SINGLE", {}),
    ("gemma-corpus", "tiny-gemma", {"batch_size": 4}, "encode_corpus", "TEXTS", {}),
    ("gemma-queries-unnormalized-truncate-dim", "tiny-gemma", {"normalize_embeddings": False, "truncate_dim": 8},
     "encode_queries", "QUERIES", {}),
    ("gemma2-queries-bge-format-pad-8", "tiny-gemma2",
     {"query_instruction_for_retrieval": BGE_LLM_INSTRUCTION, "query_instruction_format": BGE_LLM_FORMAT,
      "batch_size": 4}, "encode_queries", "QUERIES", {"pad_to_multiple_of": 8}),
    ("gemma2-corpus", "tiny-gemma2", {}, "encode_corpus", "PASSAGES", {}),
    ("gemma2-encode-max-length", "tiny-gemma2", {"batch_size": 6}, "encode", "TEXTS", {"max_length": 9}),
]

# FlagPseudoMoEModel on plain decoders (no set_domain): FlagLLMModel's path plus nan_to_num, with a domain given.
# Its class default is use_bf16=True: the weights are loaded in bf16 and, on the CPU, cast back to fp32
# (`model.float()`) before computing, so the default case compares bf16-rounded weights computed in fp32.
# trust_remote_code=True is the class's own default (pseudo-MoE checkpoints ship their routing code); the tiny models
# have no code, so it changes nothing there, and flagcore asks for it explicitly.
DECODER_PSEUDO_MOE_CASES = [
    ("pseudo-moe-llama-queries", "tiny-llama", {"query_instruction_for_retrieval": E5_INSTRUCTION,
                                                "query_instruction_format": E5_FORMAT, "batch_size": 4,
                                                "use_bf16": False, "trust_remote_code": True},
     "encode_queries", "QUERIES", {}),
    ("pseudo-moe-qwen3-domain-corpus", "tiny-qwen3", {"domain_for_pseudo_moe": "general", "batch_size": 5,
                                                      "use_bf16": False, "trust_remote_code": True},
     "encode_corpus", "TEXTS", {}),
    ("pseudo-moe-mistral-bf16-default", "tiny-mistral", {"truncate_dim": 16, "trust_remote_code": True}, "encode",
     "TEXTS", {"max_length": 16}),
]

# FlagICLModel
ICL_INIT = {"query_instruction_for_retrieval": BGE_LLM_INSTRUCTION, "query_instruction_format": BGE_LLM_FORMAT}
ICL_EMBEDDER_CASES = [
    ("icl-mistral-two-examples", "tiny-mistral", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "batch_size": 4},
     "encode_queries", "QUERIES", {}),
    ("icl-mistral-corpus", "tiny-mistral", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "batch_size": 4},
     "encode_corpus", "PASSAGES", {}),
    ("icl-mistral-encode", "tiny-mistral", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES}, "encode", "TEXTS",
     {"max_length": 24}),
    # FlagEmbedding reads examples with e.get(key, default): 'instruct' → query_instruction_for_retrieval, else ''
    ("icl-example-missing-instruct", "tiny-mistral",
     {**ICL_INIT, "examples_for_task": [ICL_EXAMPLES_MISSING_KEYS[0], ICL_EXAMPLES[0]]},
     "encode_queries", "QUERIES", {}),
    ("icl-example-missing-response", "tiny-mistral",
     {**ICL_INIT, "examples_for_task": [ICL_EXAMPLES[1], ICL_EXAMPLES_MISSING_KEYS[1]]},
     "encode_queries", "QUERIES", {}),
    # no query instruction: the example without 'instruct' gets instruct=None, which FlagEmbedding formats as "None"
    ("icl-example-missing-instruct-no-instruction", "tiny-mistral",
     {"query_instruction_format": BGE_LLM_FORMAT, "examples_for_task": ICL_EXAMPLES_MISSING_KEYS[:1]},
     "encode_queries", "QUERIES", {}),
    ("icl-empty-examples", "tiny-mistral", {**ICL_INIT, "examples_for_task": []}, "encode_queries", "QUERIES", {}),
    ("icl-no-examples", "tiny-mistral", ICL_INIT, "encode_queries", "QUERIES", {}),
    ("icl-custom-formats-and-suffix", "tiny-mistral",
     {"query_instruction_for_retrieval": "Find the answer", "query_instruction_format": "Instruct: {}\nQuery: {}",
      "examples_for_task": ICL_EXAMPLES, "examples_instruction_format": "Instruct: {}\nQuery: {}\nResponse: {}",
      "suffix": "\nResponse:"}, "encode_queries", "QUERIES", {}),
    ("icl-backslash-n-formats", "tiny-mistral",
     {"query_instruction_for_retrieval": BGE_LLM_INSTRUCTION, "query_instruction_format": "<instruct>{}\\n<query>{}",
      "examples_for_task": ICL_EXAMPLES, "examples_instruction_format": "<instruct>{}\\n<query>{}\\n<response>{}"},
     "encode_queries", "QUERIES", {}),
    ("icl-truncated-long-queries", "tiny-mistral",
     {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "query_max_length": 40, "batch_size": 4},
     "encode_queries", "ICL_LONG_QUERIES", {}),
    ("icl-call-max-length", "tiny-mistral", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES},
     "encode_queries", "ICL_LONG_QUERIES", {"max_length": 33}),
    ("icl-unnormalized-truncate-dim", "tiny-mistral",
     {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "normalize_embeddings": False, "truncate_dim": 16},
     "encode_queries", "QUERIES", {}),
    ("icl-qwen2-examples-truncated", "tiny-qwen2",
     {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "query_max_length": 37, "batch_size": 4},
     "encode_queries", "ICL_LONG_QUERIES", {}),
    ("icl-qwen3-corpus", "tiny-qwen3", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "batch_size": 5},
     "encode_corpus", "TEXTS", {}),
    ("icl-gemma-single-query", "tiny-gemma", {**ICL_INIT, "examples_for_task": ICL_EXAMPLES},
     "encode_queries", "SINGLE", {}),
    ("icl-gemma2-truncated-left-padding", "tiny-gemma2",
     {**ICL_INIT, "examples_for_task": ICL_EXAMPLES, "query_max_length": 35, "batch_size": 4},
     "encode_queries", "ICL_LONG_QUERIES", {}),
]

LLM_RERANK_PROMPT = "Predict whether passage B answers query A. Answer 'Yes' or 'No'."
# FlagLLMReranker
DECODER_RERANKER_CASES = [
    ("gemma-rerank-default", "tiny-gemma", {"batch_size": 4}, "compute_score", "PAIRS", {}),
    ("gemma-rerank-normalized", "tiny-gemma", {"normalize": True}, "compute_score", "PAIRS", {}),
    ("gemma-rerank-short", "tiny-gemma", {"max_length": 24, "batch_size": 3}, "compute_score", "PAIRS", {}),
    ("gemma-rerank-query-max-length", "tiny-gemma", {"max_length": 64, "query_max_length": 6},
     "compute_score", "PAIRS", {}),
    ("gemma-rerank-custom-prompt", "tiny-gemma", {"prompt": LLM_RERANK_PROMPT, "batch_size": 5},
     "compute_score", "PAIRS", {}),
    ("gemma-rerank-prompt-at-call", "tiny-gemma", {}, "compute_score", "PAIRS",
     {"prompt": "Is B relevant to A? Yes or No."}),
    ("gemma-rerank-one-pair", "tiny-gemma", {}, "compute_score", "ONE_PAIR", {}),
    ("gemma-rerank-no-instructions", "tiny-gemma", {"query_instruction_for_rerank": None,
                                                    "passage_instruction_for_rerank": None},
     "compute_score", "PAIRS", {}),
    ("llama-rerank-instructions", "tiny-llama", {"query_instruction_for_rerank": "Query: ",
                                                 "passage_instruction_for_rerank": "Document: ", "batch_size": 5},
     "compute_score", "PAIRS", {}),
    ("llama-rerank-call-lengths", "tiny-llama", {}, "compute_score", "PAIRS",
     {"max_length": 20, "query_max_length": 8, "batch_size": 2}),
    ("mistral-rerank-formats-left-padding", "tiny-mistral",
     {"query_instruction_for_rerank": "A: ", "query_instruction_format": "{}<{}>",
      "passage_instruction_for_rerank": "B: ", "passage_instruction_format": "{}[{}]", "batch_size": 4},
     "compute_score", "PAIRS", {}),
    ("qwen2-rerank-no-bos", "tiny-qwen2", {"batch_size": 4}, "compute_score", "PAIRS", {}),
    ("qwen3-rerank-short-normalized", "tiny-qwen3", {"max_length": 32}, "compute_score", "PAIRS",
     {"normalize": True}),
    ("gemma2-rerank", "tiny-gemma2", {"batch_size": 3}, "compute_score", "PAIRS", {}),
]

INPUTS.update({"TEXTS_NONEMPTY": TEXTS_NONEMPTY, "ICL_LONG_QUERIES": ICL_LONG_QUERIES})

# ---- layer-wise rerankers (flagcore-layerwise) against LayerWiseFlagLLMReranker / LightWeightFlagLLMReranker ----
# Models: tests/parity/tiny_layerwise.py (committed under tests/parity/layerwise_models/; 4 layers, heads for layers
# 2..4), references made on transformers 4.44.2 by make_layerwise_references.py. FlagEmbedding returns a flat list
# for one (remaining) cutoff layer and one list per layer, in ascending layer order, for several.

# LayerWiseFlagLLMReranker (model_class "decoder-only-layerwise")
LAYERWISE_RERANKER_CASES = [
    ("minicpm-layerwise-default-cutoff", "tiny-minicpm-layerwise", {"batch_size": 4}, "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-one-cutoff", "tiny-minicpm-layerwise", {"cutoff_layers": [3]}, "compute_score", "PAIRS",
     {}),
    ("minicpm-layerwise-several-cutoffs", "tiny-minicpm-layerwise", {"cutoff_layers": [2, 3, 4], "batch_size": 3},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-cutoffs-at-call", "tiny-minicpm-layerwise", {"cutoff_layers": [3]}, "compute_score",
     "PAIRS", {"cutoff_layers": [2, 4]}),
    ("minicpm-layerwise-int-cutoff-at-call", "tiny-minicpm-layerwise", {}, "compute_score", "PAIRS",
     {"cutoff_layers": 2}),
    # layers outside [start_layer, num_hidden_layers] are dropped (with a logged warning): one layer left ⇒ flat list
    ("minicpm-layerwise-out-of-range-cutoff-dropped", "tiny-minicpm-layerwise", {"cutoff_layers": [1, 3, 7]},
     "compute_score", "PAIRS", {}),
    # unsorted: the states come in ascending layer order (2, 4) but each goes through the head of the caller's list
    # at the same position (head of layer 4 on the layer-2 state, head of layer 2 on the final state)
    ("minicpm-layerwise-unsorted-cutoffs", "tiny-minicpm-layerwise", {"cutoff_layers": [4, 2]}, "compute_score",
     "PAIRS", {}),
    ("minicpm-layerwise-short-truncated", "tiny-minicpm-layerwise", {"max_length": 24, "batch_size": 3,
                                                                     "cutoff_layers": [2, 4]},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-query-max-length", "tiny-minicpm-layerwise", {"max_length": 64, "query_max_length": 6},
     "compute_score", "PAIRS", {}),
    # the pair is trimmed to max_length + len(sep) + len(prompt) (before sep + prompt are appended): with the long
    # default prompt that budget is never reached, with a short one the passage is cut
    ("minicpm-layerwise-pair-truncated", "tiny-minicpm-layerwise",
     {"max_length": 24, "prompt": "Relevant?", "cutoff_layers": [2, 4]}, "compute_score", "PAIRS", {}),
    # [bos] + query alone past the budget: the passage would have to go entirely, so nothing is trimmed
    ("minicpm-layerwise-query-over-budget-untrimmed", "tiny-minicpm-layerwise",
     {"max_length": 10, "query_max_length": 40, "prompt": "Relevant?"}, "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-call-lengths", "tiny-minicpm-layerwise", {}, "compute_score", "PAIRS",
     {"max_length": 20, "query_max_length": 8, "batch_size": 2, "cutoff_layers": [3, 4]}),
    ("minicpm-layerwise-normalized", "tiny-minicpm-layerwise", {"normalize": True, "cutoff_layers": [2, 4]},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-custom-prompt", "tiny-minicpm-layerwise", {"prompt": LLM_RERANK_PROMPT, "batch_size": 5},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-prompt-at-call", "tiny-minicpm-layerwise", {}, "compute_score", "PAIRS",
     {"prompt": "Is B relevant to A? Yes or No."}),
    ("minicpm-layerwise-instructions", "tiny-minicpm-layerwise",
     {"query_instruction_for_rerank": "Query: ", "passage_instruction_for_rerank": "Document: "},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-no-instructions", "tiny-minicpm-layerwise",
     {"query_instruction_for_rerank": None, "passage_instruction_for_rerank": None, "cutoff_layers": [2, 3]},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-formats", "tiny-minicpm-layerwise",
     {"query_instruction_for_rerank": "A: ", "query_instruction_format": "{}<{}>",
      "passage_instruction_for_rerank": "B: ", "passage_instruction_format": "{}[{}]"},
     "compute_score", "PAIRS", {}),
    ("minicpm-layerwise-one-pair", "tiny-minicpm-layerwise", {}, "compute_score", "ONE_PAIR", {}),
    ("minicpm-layerwise-one-pair-two-cutoffs", "tiny-minicpm-layerwise", {"cutoff_layers": [2, 3]},
     "compute_score", "ONE_PAIR", {}),
    # the layer-wise reranker keeps the tokenizer's padding side (here left; the lightweight one forces right)
    ("minicpm-layerwise-left-padding", "tiny-minicpm-layerwise-left-padding",
     {"cutoff_layers": [2, 3, 4], "batch_size": 4}, "compute_score", "PAIRS", {}),
]

# LightWeightFlagLLMReranker (model_class "decoder-only-lightweight"). Its class defaults: compress_layers=[8]
# (past the tiny model's 4 layers: no compression), compress_ratio=1 (none). The committed tokenizer pads on the left;
# the class switches it to right padding.
LIGHTWEIGHT_RERANKER_CASES = [
    ("gemma2-lightweight-default", "tiny-gemma2-lightweight", {"batch_size": 4}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-one-cutoff", "tiny-gemma2-lightweight", {"cutoff_layers": [3]}, "compute_score", "PAIRS",
     {}),
    ("gemma2-lightweight-several-cutoffs", "tiny-gemma2-lightweight", {"cutoff_layers": [2, 3, 4], "batch_size": 3},
     "compute_score", "PAIRS", {}),
    # the head is picked by position in the list of kept states, so the order given does not matter here
    ("gemma2-lightweight-unsorted-cutoffs", "tiny-gemma2-lightweight", {"cutoff_layers": [4, 2]}, "compute_score",
     "PAIRS", {}),
    ("gemma2-lightweight-int-cutoff-at-call", "tiny-gemma2-lightweight", {}, "compute_score", "PAIRS",
     {"cutoff_layers": 3}),
    # layer 1 is dropped; the one left (4) is scored by lm_head[0]
    ("gemma2-lightweight-out-of-range-cutoff-dropped", "tiny-gemma2-lightweight", {"cutoff_layers": [1, 4]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-1", "tiny-gemma2-lightweight",
     {"compress_ratio": 1, "compress_layers": [1, 2], "cutoff_layers": [2, 4]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-2-one-layer", "tiny-gemma2-lightweight",
     {"compress_ratio": 2, "compress_layers": [2], "cutoff_layers": [4]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-4-one-layer", "tiny-gemma2-lightweight",
     {"compress_ratio": 4, "compress_layers": [1], "cutoff_layers": [3, 4]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-2-two-layers", "tiny-gemma2-lightweight",
     {"compress_ratio": 2, "compress_layers": [1, 3], "cutoff_layers": [2, 3, 4]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-4-two-layers", "tiny-gemma2-lightweight",
     {"compress_ratio": 4, "compress_layers": [2, 3], "cutoff_layers": [4], "batch_size": 4},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-ratio-8", "tiny-gemma2-lightweight", {"compress_ratio": 8, "compress_layers": [2]},
     "compute_score", "PAIRS", {}),
    # a cutoff layer that is also a compress layer keeps the state from before that compression
    ("gemma2-lightweight-compress-at-cutoff-layer", "tiny-gemma2-lightweight",
     {"compress_ratio": 2, "compress_layers": [2], "cutoff_layers": [2, 3]}, "compute_score", "PAIRS", {}),
    # layer 0 never compresses; the default compress_layers [8] is past the last layer
    ("gemma2-lightweight-compress-layer-0-ignored", "tiny-gemma2-lightweight",
     {"compress_ratio": 2, "compress_layers": [0, 3]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-default-compress-layers", "tiny-gemma2-lightweight", {"compress_ratio": 2},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-compression-at-call", "tiny-gemma2-lightweight", {}, "compute_score", "PAIRS",
     {"cutoff_layers": [3, 4], "compress_ratio": 2, "compress_layers": [1]}),
    # compress_layer= (singular) is FlagEmbedding's deprecated call-time alias of compress_layers
    ("gemma2-lightweight-deprecated-compress-layer", "tiny-gemma2-lightweight", {"compress_layers": [3]},
     "compute_score", "PAIRS", {"compress_layer": [1], "compress_ratio": 4}),
    ("gemma2-lightweight-short-truncated", "tiny-gemma2-lightweight",
     {"max_length": 24, "batch_size": 3, "compress_ratio": 2, "compress_layers": [1], "cutoff_layers": [2, 4]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-pair-truncated", "tiny-gemma2-lightweight",
     {"max_length": 24, "prompt": "Relevant?", "compress_ratio": 2, "compress_layers": [1], "cutoff_layers": [2, 4]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-query-over-budget-untrimmed", "tiny-gemma2-lightweight",
     {"max_length": 10, "query_max_length": 40, "prompt": "Relevant?", "compress_ratio": 4, "compress_layers": [2]},
     "compute_score", "PAIRS", {}),
    # no instructions: the empty passage has no tokens at all (nothing to compress)
    ("gemma2-lightweight-query-max-length-no-instructions", "tiny-gemma2-lightweight",
     {"max_length": 64, "query_max_length": 6, "query_instruction_for_rerank": None,
      "passage_instruction_for_rerank": None, "compress_ratio": 2, "compress_layers": [1]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-normalized", "tiny-gemma2-lightweight",
     {"normalize": True, "compress_ratio": 2, "compress_layers": [1], "cutoff_layers": [2, 4]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-custom-prompt", "tiny-gemma2-lightweight",
     {"prompt": LLM_RERANK_PROMPT, "compress_ratio": 2, "compress_layers": [2]}, "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-prompt-at-call", "tiny-gemma2-lightweight", {"compress_ratio": 4, "compress_layers": [1]},
     "compute_score", "PAIRS", {"prompt": "Is B relevant to A? Yes or No."}),
    ("gemma2-lightweight-one-pair", "tiny-gemma2-lightweight", {"compress_ratio": 2, "compress_layers": [1]},
     "compute_score", "ONE_PAIR", {}),
    ("gemma2-lightweight-one-pair-two-cutoffs", "tiny-gemma2-lightweight", {"cutoff_layers": [3, 4]},
     "compute_score", "ONE_PAIR", {}),
    # sliding window 16 on the even layers (0, 2): before and after compression
    ("gemma2-lightweight-sliding-window", "tiny-gemma2-lightweight-sliding-window", {"cutoff_layers": [2, 3, 4]},
     "compute_score", "PAIRS", {}),
    ("gemma2-lightweight-sliding-window-compressed", "tiny-gemma2-lightweight-sliding-window",
     {"cutoff_layers": [2, 4], "compress_ratio": 2, "compress_layers": [1]}, "compute_score", "PAIRS", {}),
]
