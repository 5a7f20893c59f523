"""The CPU-backends section of docs/benchmarks.md, from benchmarks/cpu_backends.jsonl (benchmarks/cpu_backends.py)."""

from __future__ import annotations

import json
from pathlib import Path

GUIDE = [
    "### Which path to pick",
    "",
    "`flagcore env` says whether this CPU has native bf16 (AVX512-BF16, AMX or Arm BF16) and int8 dot products.",
    "",
    "| your CPU | fastest at fp32 quality (cosine ≥ 0.9999) | exact (fp32) | fastest, if ~0.995 cosine is fine |",
    "| --- | --- | --- | --- |",
    "| native bf16 | `backend='openvino', use_bf16=True` (`pip install 'flagcore[openvino]'`); without OpenVINO "
    "`use_bf16=True` | `backend='openvino'` | `quantize='int8'` |",
    "| no native bf16 | `backend='openvino'` (fp32) | `backend='openvino'`, or the default | `quantize='int8'` "
    "(with VNNI) |",
    "| a GPU | `use_fp16=True` (the embedders' default) | `use_fp16=False` | – |",
    "",
    "`use_bf16=True` on a CPU without native bf16 stays fp32 (with one notice): emulated bf16 runs ~100× slower "
    "there. The OpenVINO backend converts the model once (seconds; cached under `~/.cache/flagcore`, keyed by the "
    "weights) and serves the encoder-only and M3 embedders and the cross-encoder rerankers.",
    "",
]


def cpu_backend_section(path: Path) -> list[str]:
    if not path.exists():
        return []
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not runs:
        return []
    last = runs[-1]
    m, st, t = last["machine"], last["sentence_transformers"], last["targets"]
    reference = last["rows"].get("flagcore fp32", {}).get("docs_per_s")
    lines = [
        "## CPU backends: bf16, int8, OpenVINO",
        "",
        "Written by `benchmarks/cpu_backends.py` (run by `nox -s bench`; every run kept in "
        "`benchmarks/cpu_backends.jsonl`). all-MiniLM-L6-v2, mean pooling, normalised, max length "
        f"{last['max_length']}, {last['passages']} mixed-length paragraphs of the corpus (every third one); each row "
        f"in its own process, rows alternating over {last['rounds']} rounds, docs/s the median. Quality against "
        "flagcore fp32: cosine of the passage vectors (mean, minimum) and the overlap of the top-10 passages of 50 "
        "queries.",
        "",
        f"Latest run: {last['date']}. CPU: {m['cpu']}, {m['logical_cores']} logical cores, {last['threads']} "
        f"threads; flags {' '.join(m['flags'])}; native bf16: {'yes' if m['native_bf16'] else 'no'}. torch "
        f"{m['torch']}, transformers {m['transformers']}, OpenVINO {m['openvino']}; sentence-transformers "
        f"{st['version']} (its own virtualenv: OpenVINO {st['openvino']}, ONNX Runtime {st['onnxruntime']}). "
        f"Load average (1 min) before and after each round: {', '.join(f'{x[0]:.2f}' for x in last['loadavg'])}.",
        "",
        "| path | docs/s | × flagcore fp32 | cosine mean | cosine min | top-10 overlap | seconds (every round) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, row in last["rows"].items():
        ratio = f"{row['docs_per_s'] / reference:.2f}" if reference else "–"
        lines.append(f"| {name} | {row['docs_per_s']:.1f} | {ratio} | {row['cosine_mean']:.6f} | "
                     f"{row['cosine_min']:.6f} | {row['top10_overlap']:.3f} | "
                     f"{', '.join(f'{s:.2f}' for s in row['seconds'])} |")
    if t:
        met = {True: "**met**", False: "**not met**", None: "not applicable (no native bf16 here)"}[t["met"]]
        lines += [
            "",
            f"Target (a bf16 CPU): flagcore's fastest path at minimum cosine ≥ 0.9999 "
            f"({t['best_flagcore_at_min_cosine']}) ≥ {t['target_ratio']}× sentence-transformers' fastest backend "
            f"({t['best_sentence_transformers']}): {t['ratio']:.2f}× — {met}.",
        ]
        if t.get("flagcore_fp32_vs_best_st_fp32") is not None:
            ratio = t["flagcore_fp32_vs_best_st_fp32"]
            lines.append(f"flagcore fp32 (torch) against sentence-transformers' fastest fp32 backend: {ratio:.2f}× "
                         f"({'ahead' if ratio > 1 else 'behind'}).")
    lines += ["", *GUIDE, "### Every CPU-backends run", "",
              "| date | CPU | native bf16 | fastest flagcore (cosine ≥ 0.9999) | fastest sentence-transformers | × | "
              "load (1 min) |", "| --- | --- | --- | --- | --- | ---: | --- |"]
    for run in runs:
        t = run["targets"]
        best_fc = t.get("best_flagcore_at_min_cosine", "–")
        best_st = t.get("best_sentence_transformers", "–")
        fc_rate = run["rows"].get(best_fc, {}).get("docs_per_s", 0)
        st_rate = run["rows"].get(best_st, {}).get("docs_per_s", 0)
        lines.append(f"| {run['date']} | {run['machine']['cpu']}, {run['threads']} threads | "
                     f"{'yes' if run['machine']['native_bf16'] else 'no'} | {best_fc} ({fc_rate:.1f}) | "
                     f"{best_st} ({st_rate:.1f}) | {t.get('ratio', 0):.2f} | "
                     f"{max(x[0] for x in run['loadavg']):.2f} max |")
    return lines + [""]
