"""The ``flagcore`` command: ``plugins``, ``env``, ``explain``, ``models``, ``encode``, ``rerank``, ``bench``, the
commands installed distributions add through the ``flagcore.commands`` entry-point group (``serve``) and the options
they add to existing commands through ``flagcore.command_options`` (``encode --ray``)."""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from typing import Any, Callable, Sequence

from .._version import __version__
from ..engine.openvino import BACKENDS
from ..engine.precision import QUANTIZE_CHOICES
from ..extras import install_hint
from ..plugins import host
from .inspect_commands import cmd_env, cmd_explain, cmd_models, cmd_plugins
from .model_commands import cmd_bench, cmd_encode, cmd_rerank, embedder_options

#: what add-on distributions extending a command may use (with the entry-point groups below)
__all__ = ["COMMANDS_GROUP", "OPTIONS_GROUP", "build_parser", "embedder_options", "main"]

EXAMPLES = {
    "plugins": "examples:\n  flagcore plugins\n  flagcore plugins --check   # exit status 1 when a plugin is disabled",
    "env": "examples:\n  flagcore env\n  flagcore env --json",
    "explain": "examples:\n  flagcore explain BAAI/bge-m3\n  flagcore explain ./my-finetune --kind reranker",
    "models": "examples:\n  flagcore models\n  flagcore models --kind reranker\n  flagcore models --installed",
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
#: entry-point group of options added to an existing command: the name is the command (``encode``), the value a
#: "module:function"; ``function(parser)`` adds its options to that command's parser and returns a handler or None. The
#: handler is called with the parsed arguments before the command: an exit status means it ran the command its own
#: way (``encode --ray``), None lets the command run as usual
OPTIONS_GROUP = "flagcore.command_options"
#: commands of optional distributions, and the extra that installs each (named when it is missing)
EXTRA_COMMANDS = {"serve": "serve"}
#: options of optional distributions on core commands, and the extra that installs each (named when it is missing)
EXTRA_OPTIONS = {("encode", "--ray"): "ray"}
#: the help text of each command, by name
HELP = {
    "plugins": "list loaded plugins and the model classes each registered",
    "env": "this machine as flagcore sees it: versions, the CPU's bf16/int8 support, accelerators, optional backends",
    "explain": "show every plugin's claim on a model and which one wins",
    "models": "FlagEmbedding's model names: class, family, defaults, installed or not (--installed: the model "
              "folders on this machine)",
    "encode": "embed texts (lines, JSON lines or a Parquet column) from a file or stdin, streamed in chunks; a rerun "
              "resumes an interrupted file output",
    "rerank": "rank candidates (one per line, from a file or stdin) against a query; prints JSON lines "
              "{index, score, text}, best first",
    "bench": "texts (or pairs) per second of a model on this machine",
}


class CommandParser(argparse.ArgumentParser):
    """argparse without abbreviated long options (``--out`` is not taken as ``--output``), for the command and every
    subcommand, an add-on's included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``flagcore`` parser: the core's commands, then those and the options of installed distributions."""
    parser = CommandParser(prog="flagcore", description="Embedders and rerankers of the BGE family.",
                           epilog="Run 'flagcore COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"flagcore {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    parser.add_argument("--verbose", action="store_true",
                        help="show flagcore's log and transformers' loading bars (quiet by default)")
    common = CommandParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the full traceback")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, add_arguments in CORE_COMMANDS:
        p = sub.add_parser(name, parents=[common], help=HELP[name], description=HELP[name], epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        add_arguments(p)
    _add_installed_commands(sub, common)
    _add_installed_options(sub)
    return parser


def _plugins_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true",
                   help="a doctor view: every plugin found in the flagcore entry-point group, loaded or not, with its "
                        "version, state (loaded, disabled and why, not selected), import time, classes and warnings; "
                        "exit status 1 when a plugin is disabled")


def _env_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON (as benchmark records carry it)")


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model directory or hub id (nothing is downloaded)")
    p.add_argument("--kind", choices=("embedder", "reranker"), default="embedder")
    p.add_argument("--prefer-plugin", action="append",
                   help="let this plugin's claim win over FlagEmbedding's name table and the scores")


def _models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=("embedder", "reranker"))
    p.add_argument("--installed", action="store_true",
                   help="model folders already on this machine (shipped by installed packages, or in the Hugging "
                        "Face cache), with what flagcore loads each as; nothing is downloaded")
    p.add_argument("--folders", action="store_true", help="with --installed: only the folders, one per line")


def _encode_arguments(p: argparse.ArgumentParser) -> None:
    _model_arguments(p)
    p.add_argument("-o", "--output", default="-",
                   help="a .npy file, a .parquet file, or JSON lines {text, embedding} to a file or stdout (default)")
    p.add_argument("--queries", action="store_true", help="encode as queries (the query instruction applies)")
    p.add_argument("--instruction", help="query instruction (query_instruction_for_retrieval)")
    p.add_argument("--pooling-method", choices=list_plugins_pooling() or None,
                   help="how token states become one vector (the methods the installed embedder classes offer)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES,
                   help="int8 on a CPU: faster; 'int8' keeps embeddings within ~0.999 cosine of fp32, "
                        "'int8-per-token' ~0.994 (see docs/quantization.md)")
    p.add_argument("--column", help="the text column of a Parquet or JSON lines input (default: text)")
    p.add_argument("--chunk-size", type=int,
                   help="texts read, embedded and written at a time (default 8192); a rerun resumes after the last "
                        "complete chunk")
    p.add_argument("--overwrite", action="store_true",
                   help="embed again into an output that a finished run wrote (refused otherwise)")


def _rerank_arguments(p: argparse.ArgumentParser) -> None:
    _model_arguments(p)
    p.add_argument("-q", "--query", required=True, help="the query")
    p.add_argument("--top-k", type=int, help="print only the best K candidates")
    p.add_argument("--kind", choices=("auto", "reranker", "embedder"), default="auto",
                   help="score pairs with a reranker, or rank by embedding similarity (auto: a reranker if the "
                        "model resolves as one)")
    p.add_argument("--normalize", action="store_true", help="reranker scores through a sigmoid, into (0, 1)")


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    _model_arguments(p, input_default=None)
    p.add_argument("--kind", choices=("embedder", "reranker"), default="embedder")
    p.add_argument("--texts", type=int, default=256, help="how many generated texts when no --input is given")
    p.add_argument("--runs", type=int, default=3, help="timed calls (after one warm-up call)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES)


#: a command's ``func``: the parsed arguments in, the exit status out
Handler = Callable[[argparse.Namespace], int]
#: the core's commands, in the order of ``flagcore --help``: name, handler, what adds its arguments
CORE_COMMANDS: tuple[tuple[str, Handler, Callable[[argparse.ArgumentParser], None]], ...] = (
    ("plugins", cmd_plugins, _plugins_arguments),
    ("env", cmd_env, _env_arguments),
    ("explain", cmd_explain, _explain_arguments),
    ("models", cmd_models, _models_arguments),
    ("encode", cmd_encode, _encode_arguments),
    ("rerank", cmd_rerank, _rerank_arguments),
    ("bench", cmd_bench, _bench_arguments),
)


def _entry_points(group: str) -> list[Any]:
    """The group's entry points, sorted; a distribution whose entry points cannot be read is skipped with a warning."""
    from ..plugins import installed_entry_points

    found, problems = installed_entry_points(group)
    for problem in problems:
        warnings.warn(f"flagcore: {problem}", RuntimeWarning, stacklevel=3)
    return sorted(found, key=lambda ep: (ep.name, ep.value))


def _warn_broken(what: str, ep: Any, exc: Exception) -> None:
    warnings.warn(f"flagcore: {what} {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}",
                  RuntimeWarning, stacklevel=3)


def _add_installed_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The commands of the ``flagcore.commands`` entry points; one that fails to load is skipped with a warning."""
    for ep in _entry_points(COMMANDS_GROUP):
        if ep.name in sub.choices:
            continue
        try:
            ep.load()(sub, [common])
        except Exception as exc:  # a broken add-on must not take the other commands down
            _warn_broken("command", ep, exc)


def _add_installed_options(sub: Any) -> None:
    """The options of the ``flagcore.command_options`` entry points, each on the command it names; one that fails
    to load is skipped with a warning (its command works as without it)."""
    for ep in _entry_points(OPTIONS_GROUP):
        parser = sub.choices.get(ep.name)
        if parser is None:  # it extends a command of a distribution that is not installed
            continue
        try:
            handler = ep.load()(parser)
        except Exception as exc:  # a broken add-on must not take the other commands down
            _warn_broken("options of command", ep, exc)
            continue
        if handler is not None:
            parser.set_defaults(func=functools.partial(_handled_first, handler, parser.get_default("func")))


def _handled_first(handler: Callable[[argparse.Namespace], int | None], command: Handler,
                   args: argparse.Namespace) -> int:
    """The handler's exit status when it ran the command, else the command's."""
    status = handler(args)
    return command(args) if status is None else int(status)


def _missing_command(argv: Sequence[str]) -> str | None:
    """The command asked for, when it belongs to an optional distribution that is not installed."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name not in EXTRA_COMMANDS:
        return None
    if any(ep.name == name for ep in _entry_points(COMMANDS_GROUP)):
        return None
    return name


def _refuse_unknown(parser: argparse.ArgumentParser, args: argparse.Namespace, unknown: list[str]) -> None:
    """What ``parse_args`` does with arguments no parser took, except that an option of an optional distribution
    that is not installed (``encode --ray``) is an ImportError naming what to install."""
    for option in (arg.split("=", 1)[0] for arg in unknown):
        extra = EXTRA_OPTIONS.get((args.command, option))
        if extra is not None:
            raise ImportError(f"flagcore {args.command} {option} needs flagcore-{extra}: {install_hint(extra)}")
    if unknown:
        command = _subcommand_parser(parser, args.command) or parser
        command.error(f"unrecognized arguments: {' '.join(unknown)}{_suggestions(command, unknown)}")


def _subcommand_parser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:  # argparse keeps its subcommands' parsers on the subparsers action only
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name) if name else None
    return None


def _suggestions(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """`` (did you mean --input?)`` for unknown options close to one the command has; empty when none is."""
    import difflib

    known = [option for action in parser._actions for option in action.option_strings]
    hints = []
    for argument in unknown:
        option = argument.split("=", 1)[0]
        if option.startswith("-"):
            close = difflib.get_close_matches(option, known, n=1, cutoff=0.6)
            if close:
                hints.append(f"{option}: did you mean {close[0]}?")
        elif option.replace("_", "-") in (o.lstrip("-") for o in known):
            hints.append(f"{option}: did you mean --{option.replace('_', '-')}?")
    return f" ({'; '.join(hints)})" if hints else ""


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
        print(f"flagcore: error: 'flagcore {missing}' is not installed: {install_hint(extra)}", file=sys.stderr)
        return 2
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("flagcore").setLevel(logging.INFO)
    try:
        _refuse_unknown(parser, args, unknown)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("flagcore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`flagcore models | head`): stop quietly, as Unix tools do
        _silence_stdout()
        return 0
    except Exception as exc:  # the command line shows every failure the same way
        if args.debug:
            raise
        from .resume import OutputFull

        if isinstance(exc, OutputFull):  # it says how far the run got and what to do; no type, nothing to debug
            print(f"flagcore: error: {exc}", file=sys.stderr)
            return 1
        text = " ".join(str(exc).split("\n")[0].split()) if str(exc).strip() else ""
        print(f"flagcore: error: {type(exc).__name__}: {text} (--debug shows the traceback)", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not raise BrokenPipeError again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
