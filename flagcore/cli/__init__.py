"""The ``flagcore`` command: ``plugins``, ``env``, ``explain``, ``models``, ``encode``, ``rerank``, ``bench``, and the
commands installed distributions add through the ``flagcore.commands`` entry-point group (``serve``)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, Sequence

from .. import __version__
from ..engine.openvino import BACKENDS
from ..engine.precision import QUANTIZE_CHOICES
from ..plugins import host
from .inspect_commands import cmd_env, cmd_explain, cmd_models, cmd_plugins
from .model_commands import cmd_bench, cmd_encode, cmd_rerank

EXAMPLES = {
    "plugins": "example:\n  flagcore plugins",
    "env": "examples:\n  flagcore env\n  flagcore env --json",
    "explain": "examples:\n  flagcore explain BAAI/bge-m3\n  flagcore explain ./my-finetune --kind reranker",
    "models": "examples:\n  flagcore models\n  flagcore models --kind reranker",
    "encode": ("examples:\n  flagcore encode BAAI/bge-small-en-v1.5 -i passages.txt -o vectors.npy\n"
               "  echo 'what is a panda?' | flagcore encode BAAI/bge-small-en-v1.5 --queries "
               "--instruction 'Represent this sentence for searching relevant passages: '"),
    "rerank": ("examples:\n  flagcore rerank BAAI/bge-reranker-v2-m3 -q 'what is a panda?' -i candidates.txt "
               "--top-k 3\n  flagcore rerank BAAI/bge-small-en-v1.5 -q 'what is a panda?' < candidates.txt"),
    "bench": ("examples:\n  flagcore bench BAAI/bge-small-en-v1.5\n"
              "  flagcore bench ./reranker --kind reranker -i texts.txt"),
}


#: entry-point group of extra commands: name = "module:function"; ``function(subparsers, parents)`` adds the command's
#: subparser (``subparsers.add_parser(name, parents=parents, ...)``) and sets its ``func`` default
COMMANDS_GROUP = "flagcore.commands"
#: commands of optional distributions, and the extra that installs each (named when it is missing)
EXTRA_COMMANDS = {"serve": "serve"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flagcore", description="Embedders and rerankers of the BGE family.",
                                     epilog="Run 'flagcore COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"flagcore {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the full traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text, epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    command("plugins", cmd_plugins, "list loaded plugins and the model classes each registered")
    p = command("env", cmd_env, "this machine as flagcore sees it: versions, the CPU's bf16/int8 support, "
                                "accelerators, optional backends")
    p.add_argument("--json", action="store_true", help="print the report as JSON (as benchmark records carry it)")
    p = command("explain", cmd_explain, "show every plugin's claim on a model and which one wins")
    p.add_argument("model", help="model directory or hub id (nothing is downloaded)")
    p.add_argument("--kind", choices=("embedder", "reranker"), default="embedder")
    p.add_argument("--prefer-plugin", action="append",
                   help="let this plugin's claim win over FlagEmbedding's name table and the scores")
    p = command("models", cmd_models, "FlagEmbedding's model names: class, family, defaults, installed or not")
    p.add_argument("--kind", choices=("embedder", "reranker"))

    p = command("encode", cmd_encode, "embed texts (lines, JSON lines or a Parquet column) from a file or stdin, "
                                      "streamed in chunks; a rerun resumes an interrupted file output")
    _model_arguments(p)
    p.add_argument("-o", "--output", default="-",
                   help="a .npy file, a .parquet file, or JSON lines {text, embedding} to a file or stdout (default)")
    p.add_argument("--queries", action="store_true", help="encode as queries (the query instruction applies)")
    p.add_argument("--instruction", help="query instruction (query_instruction_for_retrieval)")
    p.add_argument("--pooling-method", choices=list_plugins_pooling() or None,
                   help="how token states become one vector (the methods the installed embedder classes offer)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES,
                   help="int8 on a CPU: faster, embeddings within ~0.997 cosine of fp32 (see docs/quantization.md)")
    p.add_argument("--column", help="the text column of a Parquet or JSON lines input (default: text)")
    p.add_argument("--chunk-size", type=int,
                   help="texts read, embedded and written at a time (default 8192); a rerun resumes after the last "
                        "complete chunk")
    p.add_argument("--ray", action="store_true",
                   help="run on a Ray cluster (Parquet in, a folder of Parquet files out; needs flagcore[ray])")

    p = command("rerank", cmd_rerank, "rank candidates (one per line, from a file or stdin) against a query; "
                                      "prints JSON lines {index, score, text}, best first")
    _model_arguments(p)
    p.add_argument("-q", "--query", required=True, help="the query")
    p.add_argument("--top-k", type=int, help="print only the best K candidates")
    p.add_argument("--kind", choices=("auto", "reranker", "embedder"), default="auto",
                   help="score pairs with a reranker, or rank by embedding similarity (auto: a reranker if the "
                        "model resolves as one)")
    p.add_argument("--normalize", action="store_true", help="reranker scores through a sigmoid, into (0, 1)")

    p = command("bench", cmd_bench, "texts (or pairs) per second of a model on this machine")
    _model_arguments(p, input_default=None)
    p.add_argument("--kind", choices=("embedder", "reranker"), default="embedder")
    p.add_argument("--texts", type=int, default=256, help="how many generated texts when no --input is given")
    p.add_argument("--runs", type=int, default=3, help="timed calls (after one warm-up call)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES)
    _add_installed_commands(sub, common)
    return parser


def _add_installed_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The commands of the ``flagcore.commands`` entry points; one that fails to load is skipped with a warning."""
    import importlib_metadata

    for ep in sorted(importlib_metadata.entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name):
        if ep.name in sub.choices:
            continue
        try:
            ep.load()(sub, [common])
        except Exception as exc:  # a broken add-on must not take the other commands down
            warnings.warn(f"flagcore: command {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=2)


def _missing_command(argv: Sequence[str]) -> str | None:
    """The command asked for, when it belongs to an optional distribution that is not installed."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name not in EXTRA_COMMANDS:
        return None
    import importlib_metadata

    if any(ep.name == name for ep in importlib_metadata.entry_points(group=COMMANDS_GROUP)):
        return None
    return name


def _model_arguments(p: argparse.ArgumentParser, input_default: str | None = "-") -> None:
    p.add_argument("model", help="model directory or hub id")
    p.add_argument("-i", "--input", default=input_default,
                   help="file with one text per line" + (" (default: stdin)" if input_default == "-" else ""))
    p.add_argument("--model-class", help="force a model class id, e.g. encoder-only-base")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int, help="token limit per text (per pair for a reranker)")
    p.add_argument("--devices", help="e.g. cpu, cuda:0")
    p.add_argument("--backend", choices=BACKENDS,
                   help="torch (default), or openvino on a CPU (needs flagcore[openvino]; converted once, cached)")
    p.add_argument("--bf16", action="store_true",
                   help="compute in bf16 (use_bf16=True): ~2x faster on a CPU with native bf16 (see flagcore env), "
                        "embeddings within ~0.99997 cosine of fp32; fp32 on a CPU without it")


def list_plugins_pooling() -> list[str]:
    """The pooling methods some installed embedder class accepts."""
    return host.registry.pooling_methods()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; an error is one line on stderr and exit status 1 (``--debug``: the traceback)."""
    missing = _missing_command(sys.argv[1:] if argv is None else argv)
    if missing is not None:
        extra = EXTRA_COMMANDS[missing]
        print(f"flagcore: error: 'flagcore {missing}' is not installed: pip install 'flagcore[{extra}]'",
              file=sys.stderr)
        return 2
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
