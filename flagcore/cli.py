"""The ``flagcore`` command: ``plugins``, ``explain NAME`` and ``encode MODEL``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .engine.precision import QUANTIZE_CHOICES
from .errors import ModelResolutionError
from .known_models import known_model
from .plugins import host, list_plugins
from .probe import ModelProbe
from .resolve import explain, resolve


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def cmd_plugins(args: argparse.Namespace) -> int:
    infos = list_plugins()
    if not infos:
        print("No flagcore plugins are loaded. Install a family, e.g. pip install 'flagcore[bge]'.")
        return 0
    rows = [
        (i.name, i.distribution, i.version or "-", ", ".join(i.embedders) or "-", ", ".join(i.rerankers) or "-",
         i.description or "-")
        for i in infos
    ]
    print(_table(("plugin", "distribution", "version", "embedder classes", "reranker classes", "description"), rows))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    probe = ModelProbe.from_reference(args.model)
    claims = explain(args.model, kind=args.kind)
    print(f"{args.kind} {args.model!r}: {probe.describe()}")
    if claims:
        rows = [
            (str(n), c.model_class, f"{c.score:g}", c.evidence, c.plugin or "-", c.reason,
             json.dumps(dict(c.defaults), ensure_ascii=False) if c.defaults else "-")
            for n, c in enumerate(claims, 1)
        ]
        print(_table(("#", "model class", "score", "evidence", "plugin", "reason", "defaults"), rows))
    else:
        print("No installed plugin claims this model.")
    try:
        chosen = resolve(probe, args.kind, prefer_plugin=args.prefer_plugin)
    except ModelResolutionError as exc:
        print(f"\nResult: {exc}")
        return 1
    target = chosen.entry.target
    print(f"\nResult: {chosen.model_class} ({target if isinstance(target, str) else target.__qualname__}) "
          f"from plugin {chosen.entry.plugin!r}, by {chosen.why}")
    known = known_model(probe.name, args.kind)
    if known is not None and known.model_class != chosen.model_class:
        print(f"Note: FlagEmbedding maps {probe.name!r} to {known.model_class}.")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from .auto import FlagAutoModel

    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
    with source:
        texts = source.read().splitlines()
    options = {
        "model_class": args.model_class, "pooling_method": args.pooling_method, "devices": args.devices,
        "query_instruction_for_retrieval": args.instruction, "batch_size": args.batch_size,
        "query_max_length": args.max_length, "passage_max_length": args.max_length, "quantize": args.quantize,
    }
    model = FlagAutoModel.from_finetuned(args.model, **{k: v for k, v in options.items() if v is not None})
    encode = model.encode_queries if args.queries else model.encode_corpus
    embeddings = encode(texts, show_progress_bar=len(texts) > model.batch_size)
    if args.output.endswith(".npy"):
        import numpy as np

        np.save(args.output, embeddings)
        print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {args.output}", file=sys.stderr)
        return 0
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    with sink:
        for text, vector in zip(texts, embeddings, strict=True):
            sink.write(json.dumps({"text": text, "embedding": [float(x) for x in vector]}, ensure_ascii=False) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flagcore", description="Embedders and rerankers of the BGE family.")
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the full traceback")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", parents=[common], help="list loaded plugins and the model classes each registered")
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser("explain", parents=[common], help="show every plugin's claim on a model and which one wins")
    p.add_argument("model", help="model directory or hub id (nothing is downloaded)")
    p.add_argument("--kind", choices=("embedder", "reranker"), default="embedder")
    p.add_argument("--prefer-plugin", action="append",
                   help="let this plugin's claim win over FlagEmbedding's name table and the scores")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("encode", parents=[common], help="embed texts, one per line, from a file or stdin")
    p.add_argument("model", help="model directory or hub id")
    p.add_argument("-i", "--input", default="-", help="file with one text per line (default: stdin)")
    p.add_argument("-o", "--output", default="-",
                   help="a .npy file, or JSON lines {text, embedding} to a file or stdout (default)")
    p.add_argument("--queries", action="store_true", help="encode as queries (the query instruction applies)")
    p.add_argument("--instruction", help="query instruction (query_instruction_for_retrieval)")
    p.add_argument("--model-class", help="force a model class id, e.g. encoder-only-base")
    p.add_argument("--pooling-method", choices=list_plugins_pooling() or None,
                   help="how token states become one vector (the methods the installed embedder classes offer)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int, help="token limit per text")
    p.add_argument("--devices", help="e.g. cpu, cuda:0")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES,
                   help="int8 on a CPU: faster, embeddings within ~0.997 cosine of fp32 (see docs/index.md)")
    p.set_defaults(func=cmd_encode)
    return parser


def list_plugins_pooling() -> list[str]:
    """The pooling methods some installed embedder class accepts."""
    return host.registry.pooling_methods()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; an error is one line on stderr and exit status 1 (``--debug``: the traceback)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("flagcore: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the command line shows every failure the same way
        if args.debug:
            raise
        text = " ".join(str(exc).split("\n")[0].split()) if str(exc).strip() else ""
        print(f"flagcore: error: {type(exc).__name__}: {text} (--debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
