"""Which int8 quantization can be flagcore's faster CPU path? Measures speed and quality of variants.

    python benchmarks/quantization.py [--passages 1200] [--out docs/quantization.md]

Quality bar (from the speed work): mean cosine to the fp32 embeddings ≥ 0.99 and top-10 retrieval overlap ≥ 0.9
(150 passages used as queries against the corpus, self-match excluded). A variant ships only if it clears both.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "parity"))



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "quantization.md")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import torch
    from corpus import paragraphs
    from cpu_path_checks import BAR_COSINE, BAR_OVERLAP, passes_bar, quality, time_alternately
    from tiny_models import minilm_dir
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from flagcore import FlagAutoModel

    texts = paragraphs()[: args.passages]
    minilm = str(minilm_dir())

    def swapped(quantize):
        embedder = FlagAutoModel.from_finetuned(minilm, devices="cpu")
        embedder.model = quantize(copy.deepcopy(embedder.model))
        return embedder

    def linears(module, keep):
        return {name: per_channel_dynamic_qconfig for name, m in module.named_modules()
                if isinstance(m, torch.nn.Linear) and keep(name)}

    variants = {
        "fp32 (the default)": lambda: FlagAutoModel.from_finetuned(minilm, devices="cpu"),
        "torch dynamic int8, every Linear, per-tensor weights": lambda: swapped(
            lambda m: quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)),
        "torch dynamic int8, every Linear, per-channel weights": lambda: swapped(
            lambda m: quantize_dynamic(m, {torch.nn.Linear: per_channel_dynamic_qconfig})),
        "torch dynamic int8, feed-forward Linears, per-channel": lambda: swapped(lambda m: quantize_dynamic(m, linears(
            m, lambda n: "intermediate" in n or ("output.dense" in n and "attention" not in n)))),
        "torch dynamic int8, feed-forward input Linear only": lambda: swapped(
            lambda m: quantize_dynamic(m, linears(m, lambda n: "intermediate" in n))),
        "flagcore quantize='int8' (per-token activations, per-channel weights)": lambda: FlagAutoModel.from_finetuned(
            minilm, devices="cpu", quantize="int8"),
    }
    embedders = {name: make() for name, make in variants.items()}
    for embedder in embedders.values():  # first calls (placement, kernel compilation) are not timed
        embedder.encode_corpus(texts[:64], show_progress_bar=False)
    names = list(embedders)
    runs = {name: lambda e=embedder: e.encode_corpus(texts, show_progress_bar=False)
            for name, embedder in embedders.items()}
    outputs, seconds = time_alternately(runs, args.rounds)
    reference, base = outputs[names[0]], statistics.median(seconds[names[0]])
    rows = []
    for name in names[1:]:
        cosine, least, overlap = quality(outputs[name], reference)
        speed = base / statistics.median(seconds[name])
        rows.append((name, speed, cosine, least, overlap, passes_bar(cosine, overlap)))
        print(rows[-1], flush=True)
    lines = [
        "# int8 quantization on the CPU",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `benchmarks/quantization.py`: all-MiniLM-L6-v2, "
        f"{len(texts)} pydoc paragraphs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.rounds} alternating rounds (medians; fp32 took {', '.join(f'{x:.1f}' for x in seconds[names[0]])} s). "
        f"Quality bar: mean cosine to fp32 ≥ {BAR_COSINE} and top-10 retrieval overlap ≥ {BAR_OVERLAP} (150 "
        "passages as queries against the rest).",
        "",
        "| variant | speed vs fp32 | mean cosine | min cosine | top-10 overlap | accepted |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [f"| {n} | {s:.2f}× | {c:.4f} | {cm:.4f} | {o:.3f} | {'yes' if a else 'no'} |"
              for n, s, c, cm, o, a in rows]
    lines += ["", "PyTorch's dynamic quantization gives all the tokens of a batch one activation scale, so a few large "
              "activations flatten the precision of the rest: fast, but the vectors move too far, and quantizing "
              "fewer layers keeps the cosine but still reorders neighbours. flagcore's `quantize='int8'` scales "
              "every token on its own (and every weight row), runs the int8 products in `torch._int_mm` and fuses "
              "the quantize and rescale passes with `torch.compile`."
              + (" It clears the bar and is the opt-in CPU path." if rows[-1][-1] else
                 " In this run it did not clear the bar.")]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
