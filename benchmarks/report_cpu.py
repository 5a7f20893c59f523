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
    "| native bf16 | `backend='openvino', use_bf16=True` (`pip install -e '.[openvino]'`; once published "
    "`pip install 'flagcore[openvino]'`); without OpenVINO `use_bf16=True` | `backend='openvino'` | "
    "`quantize='int8'` |",
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
    return [*_header(last), *_rows_table(last), *_targets(last), *_ceilings(last), *_profile(last),
            *_pareto(last), "", *GUIDE, *_history(runs), ""]


def _header(last: dict) -> list[str]:
    m, st = last["machine"], last["sentence_transformers"]
    peers = last.get("peers", {})
    others = "".join(f"; {name} {v['version']} (ONNX Runtime {v['onnxruntime']})" for name, v in peers.items()
                     if name != "sentence-transformers")
    return [
        "## CPU backends: bf16, int8, OpenVINO",
        "",
        "Written by `benchmarks/cpu_backends.py` (run by `nox -s bench`; every run kept in "
        "`benchmarks/cpu_backends.jsonl`). all-MiniLM-L6-v2, mean pooling, normalised, max length "
        f"{last['max_length']}, {last['passages']} mixed-length paragraphs of the corpus (every third one); each row "
        f"in its own process (each system in its own virtualenv), rows alternating over {last['rounds']} rounds, "
        "docs/s the median. Quality against flagcore fp32: cosine of the passage vectors (mean, minimum) and the "
        "overlap of the top-10 passages of 50 queries.",
        "",
        f"Latest run: {last['date']}. CPU: {m['cpu']}, {m['logical_cores']} logical cores, {last['threads']} "
        f"threads; flags {' '.join(m['flags'])}; native bf16: {'yes' if m['native_bf16'] else 'no'}. torch "
        f"{m['torch']}, transformers {m['transformers']}, OpenVINO {m['openvino']}; sentence-transformers "
        f"{st['version']} (its own virtualenv: OpenVINO {st['openvino']}, ONNX Runtime {st['onnxruntime']}"
        f"{', optimum-intel ' + st['optimum-intel'] if 'optimum-intel' in st else ''}){others}. "
        f"Load average (1 min) before and after each round: {', '.join(f'{x[0]:.2f}' for x in last['loadavg'])}.",
        "",
    ]


def _rows_table(last: dict) -> list[str]:
    reference = last["rows"].get("flagcore fp32", {}).get("docs_per_s")
    fractions = last.get("ceiling_fractions", {}).get("rows", {})
    lines = ["| path | precision | docs/s | × flagcore fp32 | × its GEMM-only ceiling | cosine mean | cosine min | "
             "top-10 overlap | seconds (every round) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, row in last["rows"].items():
        ratio = f"{row['docs_per_s'] / reference:.2f}" if reference else "–"
        fraction = f"{fractions[name]['fraction']:.0%}" if name in fractions else "–"
        lines.append(f"| {name} | {row.get('precision', '–')} | {row['docs_per_s']:.1f} | {ratio} | {fraction} | "
                     f"{row['cosine_mean']:.6f} | {row['cosine_min']:.6f} | {row['top10_overlap']:.3f} | "
                     f"{', '.join(f'{s:.2f}' for s in row['seconds'])} |")
    for name, why in {**last.get("skipped", {}), **last.get("failed", {})}.items():
        lines.append(f"| {name} | not run: {why.strip().splitlines()[-1][:200] if why.strip() else '?'} |"
                     " | | | | | | |")
    return lines


def _targets(last: dict) -> list[str]:
    t = last["targets"]
    if not t:
        return []
    met = {True: "**met**", False: "**not met**", None: "not applicable (no native bf16 here)"}[t["met"]]
    lines = [
        "",
        f"Target (a bf16 CPU): flagcore's fastest path at minimum cosine ≥ 0.9999 "
        f"({t['best_flagcore_at_min_cosine']}) ≥ {t['target_ratio']}× sentence-transformers' fastest backend at "
        f"that quality ({t['best_sentence_transformers']}): {t['ratio']:.2f}× — {met}.",
    ]
    if t.get("flagcore_fp32_vs_best_st_fp32") is not None:
        ratio = t["flagcore_fp32_vs_best_st_fp32"]
        lines.append(f"flagcore fp32 (torch) against sentence-transformers' fastest fp32 backend: {ratio:.2f}× "
                     f"({'ahead' if ratio > 1 else 'behind'}).")
    return lines


def _ceilings(last: dict) -> list[str]:
    gemm, fractions = last.get("gemm_ceiling"), last.get("ceiling_fractions", {})
    if not gemm or not gemm.get("docs_per_s"):
        return []
    lines = [
        "", "### GEMM-only ceilings", "",
        f"docs/s if only the linear layers' GEMMs ran (`benchmarks/gemm_ceiling.py`): flagcore's own batch plan for "
        f"these passages ({gemm['batches']} batches, {gemm['token_rows']} padded token rows), every layer's six "
        "GEMMs (Q, K, V, attention output, FFN in, FFN out) alone at the same thread count, no bias, attention, "
        "GELU, norms, casts or Python: fp32 `torch.matmul`, bf16 `torch.matmul`, int8 `torch._int_mm` (the "
        "shapes of `quantize='int8'`); timed after each round, the median. Each flagcore row against its "
        "precision's ceiling (OpenVINO rows too: its kernels are not torch's, so it may pass 100%).", "",
        "| precision | ceiling docs/s (median; every round) | flagcore rows: × the ceiling |",
        "| --- | --- | --- |"]
    for precision, rate in gemm["docs_per_s"].items():
        rounds = ", ".join(f"{r[precision]:.0f}" for r in gemm["rounds"])
        rows = "; ".join(f"{name} {f['fraction']:.0%}" for name, f in fractions.get("rows", {}).items()
                         if f["precision"] == precision) or "–"
        lines.append(f"| {precision} | {rate:.0f} ({rounds}) | {rows} |")
    if fractions.get("met") is not None:
        verdict = "**met**" if fractions["met"] else "**not met**"
        lines += ["", f"Target: every flagcore path ≥ {fractions['target']:.0%} of its precision's ceiling — "
                      f"{verdict}."]
    if gemm.get("other_shapes"):
        lines += ["", "The same batches on larger encoders' shapes (once per run, for the record): GEMM-only docs/s.",
                  "", "| shapes | fp32 | bf16 | int8 |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {c['fp32']:.0f} | {c['bf16']:.0f} | {c['int8']:.0f} |"
                  for name, c in gemm["other_shapes"].items()]
    return lines


def _profile(last: dict) -> list[str]:
    profile = last.get("profile_fp32")
    if not profile:
        return []
    wall = profile["wall_s"]
    lines = ["", "### What is left on the fp32 torch path", "",
             f"One `encode_corpus` of the {profile['passages']} passages, flagcore fp32, under `torch.profiler` "
             f"(`benchmarks/fp32_profile.py`; self time per operator, by kind): {wall:.2f} s wall, profiler "
             "included.", "", "| kind | seconds | share of wall |", "| --- | ---: | ---: |"]
    lines += [f"| {kind} | {s:.3f} | {s / wall:.1%} |" for kind, s in profile["kinds_s"].items()]
    top = ", ".join(f"`{k}` {s:.3f} s" for k, s in list(profile["top_operators_s"].items())[:8])
    return lines + ["", f"Largest operators: {top}."]


def _pareto(last: dict) -> list[str]:
    table = last.get("pareto")
    if not table:
        return []
    systems = ("flagcore", "sentence-transformers", "fastembed", "infinity-emb")
    lines = ["", "### Speed against quality: each system's fastest path per band", "",
             "Per band of minimum cosine to flagcore fp32, the fastest row of each system, and flagcore's fastest ÷ "
             f"the fastest peer's (target ≥ {table['target']}×).", "",
             f"| minimum cosine | {' | '.join(systems)} | flagcore ÷ best peer |",
             f"| --- | {' | '.join('---' for _ in systems)} | ---: |"]
    for band, entry in table["bands"].items():
        cells = [f"{entry['fastest'][s]['row']} ({entry['fastest'][s]['docs_per_s']:.1f})"
                 if s in entry["fastest"] else "–" for s in systems]
        verdict = ("–" if entry["ratio"] is None
                   else f"{entry['ratio']:.2f}× — {'**met**' if entry['met'] else '**not met**'}")
        lines.append(f"| ≥ {band} | {' | '.join(cells)} | {verdict} |")
    return lines


def _history(runs: list[dict]) -> list[str]:
    lines = ["### Every CPU-backends run", "",
             "| date | CPU | native bf16 | fastest flagcore (cosine ≥ 0.9999) | fastest sentence-transformers | × | "
             "flagcore ÷ best peer (≥ 0.9999 / 0.999 / 0.99) | load (1 min) |",
             "| --- | --- | --- | --- | --- | ---: | --- | --- |"]
    for run in runs:
        t = run["targets"]
        best_fc = t.get("best_flagcore_at_min_cosine", "–")
        best_st = t.get("best_sentence_transformers", "–")
        fc_rate = run["rows"].get(best_fc, {}).get("docs_per_s", 0)
        st_rate = run["rows"].get(best_st, {}).get("docs_per_s", 0)
        bands = run.get("pareto", {}).get("bands", {})
        pareto = " / ".join("–" if b["ratio"] is None else f"{b['ratio']:.2f}" for b in bands.values()) or "–"
        lines.append(f"| {run['date']} | {run['machine']['cpu']}, {run['threads']} threads | "
                     f"{'yes' if run['machine']['native_bf16'] else 'no'} | {best_fc} ({fc_rate:.1f}) | "
                     f"{best_st} ({st_rate:.1f}) | {t.get('ratio', 0):.2f} | {pareto} | "
                     f"{max(x[0] for x in run['loadavg']):.2f} max |")
    return lines
