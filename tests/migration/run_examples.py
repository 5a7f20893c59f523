"""Run FlagEmbedding's usage examples (tests/migration/examples/*.py) with FlagEmbedding or with flagcore.

    python tests/migration/run_examples.py --library {FlagEmbedding,flagcore} --hub-cache DIR --out FILE [--fp32]
                                           [NAME ...]

Each example runs in this process, one after the other, from its file text with exactly these changes (``prepare``):

* the import line: ``from FlagEmbedding import A, B`` becomes ``from flagcore import A, B`` (``--library flagcore``;
  with ``--library FlagEmbedding`` the line stays);
* devices: a quoted ``'cuda:N'`` becomes ``'cpu'`` (a list keeps its length, so a multi-device example still starts
  one worker per entry): the examples name GPUs, the references and the test run on a CPU.

Nothing else changes. ``print`` is the builtin plus a recorder: the
arguments of every call are kept, in order, as ``printed`` (many examples print results they never store), and the
example's ``RESULTS`` dict is kept as ``results``. ``HF_HUB_CACHE`` is the cache of hub_cache.py and the hub is
offline (set here, before anything imports the hub client).

``--fp32`` (FlagEmbedding only): FlagEmbedding's embedders load half-precision weights when ``use_fp16`` is true — the
default of FlagAutoModel and of every embedder class — even on a CPU, where flagcore computes in fp32. With --fp32
the embedders load fp32 weights (``AbsEmbedder.get_model_torch_dtype`` returns float32, which is what
``use_fp16=False`` gives: the embedders use ``use_fp16`` for nothing else), so the references also hold what
FlagEmbedding computes in full precision. Its rerankers already compute in fp32 on a CPU.

The output file is JSON: ``{"library": ..., "versions": {package: version}, "examples": {name: {"ok": bool, "error":
str or null, "printed": [[arg, ...], ...], "results": {...}, "seconds": float}}}`` with values in the tagged form of
``plain``. Only the standard library, numpy and torch are used here, so every environment runs it.
"""

from __future__ import annotations

import argparse
import builtins
import gc
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

EXAMPLES = Path(__file__).parent / "examples"
IMPORT_LINE = re.compile(r"^from FlagEmbedding import (?P<names>.+)$", re.M)
CUDA_DEVICE = re.compile(r"""(['"])cuda:\d+\1""")
# an array with more values than this is kept as a summary (mean row and sampled rows), not in full
FULL_ARRAY_LIMIT = 4096
SAMPLED_ROWS = 16


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def imported_names(text: str) -> list[str]:
    """The names of the example's one ``from FlagEmbedding import ...`` line."""
    lines = IMPORT_LINE.findall(text)
    found = IMPORT_LINE.search(text)
    if len(lines) != 1 or found is None:
        raise ValueError(f"an example has exactly one 'from FlagEmbedding import ...' line, not {len(lines)}")
    return [name.strip() for name in found["names"].split(",")]


def prepare(text: str, library: str) -> str:
    """The example's code as it runs with ``library``: the import line and the devices changed, nothing else."""
    imported_names(text)  # exactly one import line
    if library == "flagcore":
        text = IMPORT_LINE.sub(lambda m: f"from flagcore import {m['names']}", text)
    elif library != "FlagEmbedding":
        raise ValueError(library)
    return CUDA_DEVICE.sub("'cpu'", text)


def plain(value):
    """A JSON-able, tagged copy of what an example computed (arrays keep dtype and shape)."""
    import numpy as np

    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return {"tensor": str(value.dtype).replace("torch.", ""), **_array(value.detach().cpu().float().numpy())}
    if isinstance(value, np.ndarray):
        return {"ndarray": str(value.dtype), **_array(value)}
    if isinstance(value, np.generic):
        return {"scalar": type(value).__name__, "value": value.item()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {"dict": type(value).__name__, "keys": sorted({type(k).__name__ for k in value}),
                "items": {str(k): plain(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [plain(v) for v in value]}
    return {"object": f"{type(value).__module__}.{type(value).__qualname__}"}


def _array(array) -> dict:
    import numpy as np

    values = np.asarray(array, dtype=np.float64)
    if values.size <= FULL_ARRAY_LIMIT or values.ndim < 2:
        return {"shape": list(values.shape), "values": values.round(8).tolist()}
    step = max(1, len(values) // SAMPLED_ROWS)
    rows = sorted({*range(0, len(values), step), len(values) - 1})
    return {"shape": list(values.shape), "mean_row": values.mean(axis=0).round(8).tolist(),
            "rows": {str(i): values[i].round(8).tolist() for i in rows}}


class PrintRecorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append([plain(a) for a in args])
        builtins.print(*args, **kwargs)


def full_precision_embedders() -> None:
    """--fp32: FlagEmbedding's embedders load fp32 weights, as with use_fp16=False (see the module docstring)."""
    import torch
    from FlagEmbedding.abc.inference.AbsEmbedder import AbsEmbedder

    def get_model_torch_dtype(self):
        return torch.bfloat16 if self.use_bf16 else torch.float32

    AbsEmbedder.get_model_torch_dtype = get_model_torch_dtype


def run(name: str, library: str) -> dict:
    path = EXAMPLES / f"{name}.py"
    code = prepare(path.read_text(encoding="utf-8"), library)
    recorder = PrintRecorder()
    namespace = {"__name__": "__migration_example__", "__file__": str(path), "print": recorder}
    started = time.perf_counter()
    outcome = {"ok": True, "error": None}
    try:
        exec(compile(code, str(path), "exec"), namespace)
    except Exception as error:  # recorded: the test says which examples must run
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}",
                   "traceback": traceback.format_exc(limit=-4)}
    seconds = time.perf_counter() - started
    results = namespace.get("RESULTS") if outcome["ok"] else None
    outcome.update(printed=recorder.calls, results=None if results is None else plain(results),
                   seconds=round(seconds, 2))
    namespace.clear()
    gc.collect()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--library", choices=("FlagEmbedding", "flagcore"), required=True)
    parser.add_argument("--hub-cache", type=Path, required=True, help="the cache of hub_cache.py (its hub/ folder)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fp32", action="store_true", help="FlagEmbedding's embedders in fp32 (docstring)")
    parser.add_argument("names", nargs="*", help="examples (default: all)")
    args = parser.parse_args()
    os.environ["HF_HUB_CACHE"] = str(args.hub_cache.resolve())
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.fp32:
        if args.library != "FlagEmbedding":
            parser.error("--fp32 changes FlagEmbedding's embedders; flagcore computes in fp32 on a CPU anyway")
        full_precision_embedders()
    found = {}
    for name in args.names or example_names():
        found[name] = run(name, args.library)
        state = "ok" if found[name]["ok"] else found[name]["error"]
        sys.stderr.write(f"[{args.library}] {name}: {state} ({found[name]['seconds']} s)\n")
    report = {"library": args.library, "versions": versions(args.library), "examples": found}
    args.out.write_text(json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def versions(library: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for package in (library, "torch", "transformers", "tokenizers", "huggingface_hub", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


if __name__ == "__main__":
    main()
