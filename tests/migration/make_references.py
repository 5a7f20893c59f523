"""Write tests/migration/references.json: what FlagEmbedding 1.4.2 (the oracle) computes for every example.

    python tests/migration/make_references.py --oracle-python PY --layerwise-oracle-python PY [--out FILE]

Run in flagcore's environment (transformers 5): it builds the hub cache of hub_cache.py there (the files are
byte-identical in every environment with the same torch; the references record their digests), then runs
run_examples.py with ``--library FlagEmbedding`` in the oracle's virtualenvs: the layer-wise and lightweight
examples (LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker: FlagEmbedding's bundled MiniCPM / Gemma2 model code
runs only on transformers ~4.44–4.46) with ``--layerwise-oracle-python`` (FlagEmbedding 1.4.2, transformers 4.44.2),
all others with ``--oracle-python`` (FlagEmbedding 1.4.2, transformers 4.57.6). Every example runs twice there: as
written (``as_written``) and with ``--fp32`` (FlagEmbedding's embedders in full precision); the second is kept as
``fp32`` where it differs, i.e. where the example's embedder computed in half precision on the CPU.
`nox -s migration_references` sets all of this up. Every example must run on FlagEmbedding.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import hub_cache  # noqa: E402
from compare import outcome_differences  # noqa: E402
from run_examples import EXAMPLES, example_names, imported_names  # noqa: E402

# classes whose examples need the transformers 4.44 oracle
LAYERWISE_CLASSES = {"LayerWiseFlagLLMReranker", "LightWeightFlagLLMReranker"}


def needs_layerwise_oracle(name: str) -> bool:
    return bool(LAYERWISE_CLASSES & set(imported_names((EXAMPLES / f"{name}.py").read_text(encoding="utf-8"))))


def source_of(name: str) -> str:
    """The example's 'Source: ...' header, as one line."""
    lines = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Source: "))
    header = [lines[start][len("# Source: "):]]
    for line in lines[start + 1:]:
        if not line.startswith("# ") or line.startswith("# The snippet"):
            break
        header.append(line[2:])
    return " ".join(header)


def run_oracle(python: str, hub: Path, names: list[str], fp32: bool, scratch: Path) -> dict:
    out = scratch / f"oracle-{len(list(scratch.iterdir()))}.json"
    command = [python, str(HERE / "run_examples.py"), "--library", "FlagEmbedding", "--hub-cache", str(hub),
               "--out", str(out), *(["--fp32"] if fp32 else []), *names]
    subprocess.run(command, check=True)
    report = json.loads(out.read_text(encoding="utf-8"))
    failed = {name: o["error"] for name, o in report["examples"].items() if not o["ok"]}
    if failed:
        raise SystemExit(f"examples that do not run on FlagEmbedding: {failed}")
    return report


def stored(outcome: dict) -> dict:
    return {key: outcome[key] for key in ("ok", "error", "printed", "results")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--oracle-python", required=True, help="FlagEmbedding 1.4.2 with transformers 4.57")
    parser.add_argument("--layerwise-oracle-python", required=True, help="FlagEmbedding 1.4.2 with transformers 4.44")
    parser.add_argument("--out", type=Path, default=HERE / "references.json")
    args = parser.parse_args()
    names = example_names()
    groups = {"transformers-4.57": (args.oracle_python, [n for n in names if not needs_layerwise_oracle(n)]),
              "transformers-4.44": (args.layerwise_oracle_python, [n for n in names if needs_layerwise_oracle(n)])}
    examples, environments = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        hub, digests = hub_cache.build(Path(tmp) / "cache")
        scratch = Path(tmp) / "runs"
        scratch.mkdir()
        for environment, (python, group) in groups.items():
            as_written = run_oracle(python, hub, group, False, scratch)
            fp32 = run_oracle(python, hub, group, True, scratch)
            environments[environment] = as_written["versions"]
            for name in group:
                entry = {"source": source_of(name), "environment": environment,
                         "as_written": stored(as_written["examples"][name])}
                if outcome_differences(entry["as_written"], fp32["examples"][name], 0.0):
                    entry["fp32"] = stored(fp32["examples"][name])
                examples[name] = entry
    meta = {
        "oracle": "FlagEmbedding 1.4.2, on a CPU",
        "environments": environments,
        "made_by": "tests/migration/make_references.py (nox -s migration_references)",
        "hub_names": hub_cache.HUB_NAMES,
        "model_digests": digests,
        "fp32": "present where FlagEmbedding computed the example in half precision: its output with the embedders "
                "loading fp32 weights (use_fp16=False)",
    }
    text = json.dumps({"meta": meta, "examples": dict(sorted(examples.items()))}, ensure_ascii=False,
                      separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(examples)} examples to {args.out} ({len(text) // 1024} KiB)")


if __name__ == "__main__":
    main()
