"""One library, one process: load a model, time encoding the corpus, save the outputs.

    python benchmarks/worker.py LIB TASK MODEL_DIR OUT_PREFIX --threads N [--device cuda:0 --fp16] [--repeats N]

LIB: flagcore | flagcore-int8 (quantize='int8') | flagembedding |
sentence-transformers. TASK: embed | rerank | first (the MiniLM rows), llm-embed | llm-rerank (a decoder-only
causal LM: last-token embeddings, the "Yes"-logit reranker). Prints one JSON line.
Runs under whichever interpreter has LIB installed (FlagEmbedding lives in its own virtualenv).
--stride K takes every K-th paragraph (a subset with the corpus's mix of lengths), --limit N then the first N of
those; --pairs-per-query P pairs each question with the first P of them (default: 1000 pairs in all).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

MAX_LENGTH = 512


def build_llm(lib: str, task: str, model_dir: str):
    """A decoder-only causal LM at each library's defaults, fp32 on the CPU: FlagEmbedding's FlagLLMModel /
    FlagLLMReranker, flagcore's ``decoder-only-base`` classes, sentence-transformers with last-token pooling."""
    if lib == "flagcore":
        from flagcore import FlagAutoModel, FlagAutoReranker

        if task == "rerank":
            return FlagAutoReranker.from_finetuned(model_dir, model_class="decoder-only-base", devices="cpu")
        return FlagAutoModel.from_finetuned(model_dir, devices="cpu")
    if lib == "flagembedding":
        from FlagEmbedding import FlagLLMModel, FlagLLMReranker

        if task == "rerank":
            return FlagLLMReranker(model_dir, use_fp16=False, devices="cpu")
        return FlagLLMModel(model_dir, use_fp16=False, devices="cpu")
    if lib == "sentence-transformers" and task == "embed":
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

        # plain text in, as the other two embed it: left alone, sentence-transformers 6 renders every text of a
        # backbone with a chat template (SmolLM2's has one) as a chat message with its default system prompt
        text_only = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}
        transformer = Transformer(model_dir, max_seq_length=MAX_LENGTH, modality_config=text_only,
                                  module_output_name="token_embeddings")
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="lasttoken")
        return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    raise SystemExit(f"no LLM {task} row for {lib}")


def build(lib: str, task: str, model_dir: str, device: str = "cpu", fp16: bool = False):
    """The library's model at its defaults, on ``device``; ``fp16`` (for accelerators) halves the weights."""
    if task.startswith("llm-"):
        return build_llm(lib, task.removeprefix("llm-"), model_dir)
    if lib in ("flagcore", "flagcore-int8"):
        from flagcore import FlagAutoModel, FlagAutoReranker

        options = {"quantize": "int8"} if lib == "flagcore-int8" else {}
        if task == "rerank":
            return FlagAutoReranker.from_finetuned(model_dir, devices=device, max_length=MAX_LENGTH, use_fp16=fp16,
                                                   **options)
        return FlagAutoModel.from_finetuned(model_dir, devices=device, passage_max_length=MAX_LENGTH, use_fp16=fp16,
                                            **options)
    if lib == "flagembedding":
        from FlagEmbedding import FlagModel, FlagReranker

        if task == "rerank":
            return FlagReranker(model_dir, use_fp16=fp16, devices=device, max_length=MAX_LENGTH)
        return FlagModel(model_dir, use_fp16=fp16, devices=device, pooling_method="mean",
                         passage_max_length=MAX_LENGTH)
    if lib == "sentence-transformers":
        if task == "rerank":
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(model_dir, device=device, max_length=MAX_LENGTH)
            if fp16:
                model.model.half()
            return model
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_dir, device=device)
        model.max_seq_length = MAX_LENGTH
        return model.half() if fp16 else model
    raise SystemExit(f"unknown library {lib}")


def run(lib: str, task: str, model, texts, pairs, batch_size: int | None):
    import numpy as np

    task = task.removeprefix("llm-")

    if task == "rerank":
        if lib == "sentence-transformers":
            kwargs = {"batch_size": batch_size} if batch_size else {}
            return np.asarray(model.predict(pairs, show_progress_bar=False, **kwargs), dtype=np.float32)
        kwargs = {"batch_size": batch_size} if batch_size else {}
        return np.asarray(model.compute_score(pairs, **kwargs), dtype=np.float32)
    if lib == "sentence-transformers":
        kwargs = {"batch_size": batch_size} if batch_size else {}
        return model.encode(texts, normalize_embeddings=True, show_progress_bar=False, **kwargs)
    kwargs = {"batch_size": batch_size} if batch_size else {}
    return model.encode_corpus(texts, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("task", choices=("embed", "rerank", "first", "llm-embed", "llm-rerank"))
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the library's own default")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--pairs-per-query", type=int, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from corpus import pairs as corpus_pairs
    from corpus import paragraphs

    texts = paragraphs()[:: args.stride][: args.limit]
    pairs = corpus_pairs(texts, per_query=args.pairs_per_query)
    model = build(args.lib, args.task if args.task != "first" else "embed", args.model, args.device, args.fp16)
    loaded = time.perf_counter()
    if args.task == "first":
        run(args.lib, "embed", model, ["What is a Python generator?"], [], None)
        print(json.dumps({"lib": args.lib, "load_s": loaded - started,
                          "first_s": time.perf_counter() - started}))
        return
    run(args.lib, args.task, model, texts[:16], pairs[:16], args.batch_size)  # warm-up
    timings = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        out = run(args.lib, args.task, model, texts, pairs, args.batch_size)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - t)
    np.save(args.out + ".npy", np.asarray(out, dtype=np.float32))
    count = len(pairs) if args.task.endswith("rerank") else len(texts)
    print(json.dumps({"lib": args.lib, "task": args.task, "batch_size": args.batch_size, "items": count,
                      "seconds": timings, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
