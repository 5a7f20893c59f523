"""Pages generated when the site is built (``mkdocs build``, run by ``nox -s docs``), never committed.

Run by mkdocs-gen-files (``plugins: gen-files`` in mkdocs.yml) in the environment that builds the site, with
flagcore and the installed family plugins importable:

- ``models.md``: FlagEmbedding's model names, the flagcore class and family serving each, and the defaults its
  claim implies (from ``flagcore.known_models`` and the installed plugins' registry);
- ``reference/*.md``: the API reference, rendered by mkdocstrings from the docstrings;
- ``benchmark-plots.md`` and its PNGs, drawn by ``benchmarks/report.py`` from ``benchmarks/results.jsonl``.
"""

from __future__ import annotations

import importlib.util
import inspect
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]

# Every page this script writes (tests/test_docs_site.py reads this tuple: nav entries absent from docs/ must be
# here).
GENERATED = (
    "models.md",
    "benchmark-plots.md",
    "reference/flagcore.md",
    "reference/family.md",
    "reference/hookspecs.md",
    "reference/integration.md",
)

API_PAGES = {
    "reference/flagcore.md": (
        "flagcore",
        "The top-level API: the auto factories, `explain` / `resolve`, the errors, the enums and the plugin "
        "functions. Importing `flagcore` imports neither torch nor transformers.",
    ),
    "reference/family.md": (
        "flagcore.family",
        "The plugin author's API: everything a family plugin may import from flagcore (see "
        "[Writing a plugin](../writing-a-plugin.md)).",
    ),
    "reference/hookspecs.md": (
        "flagcore.hookspecs",
        "The hooks a plugin implements, and their contract (the rules are in "
        "[Resolution rules](../resolution.md)).",
    ),
    "reference/integration.md": (
        "flagcore.integration",
        "What a framework adapter builds on: models from a name or a loaded instance, dense and sparse vectors of "
        "a side, ranked documents (the LangChain, LlamaIndex, Haystack and MTEB add-ons use it).",
    ),
}


def _cell(value: object) -> str:
    """A markdown table cell: code, with newlines shown as ``\\n`` and pipes escaped."""
    if value is None or value == "":
        return "—"
    text = str(value).replace("\n", "\\n").replace("|", "\\|")
    return f"`{text}`"


def _class_default(entry, parameter: str) -> object:
    """A constructor default of a registered class (imports the class's module, not its weights)."""
    try:
        classes = entry.load().__mro__
    except Exception:  # a family whose class cannot be imported here: leave the cell empty
        return None
    for cls in classes:  # the first __init__ that names the parameter (a subclass may pass it on in **kwargs)
        param = inspect.signature(cls.__init__).parameters.get(parameter) if "__init__" in vars(cls) else None
        if param is not None:
            return None if param.default is inspect.Parameter.empty else param.default
    return None


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def models_page() -> str:
    from flagcore import explain
    from flagcore.extras import EXTRAS, checkout_command
    from flagcore.known_models import KNOWN_MODELS
    from flagcore.plugins import host, list_plugins

    plugins = list_plugins()
    registry = host.registry
    lines = [
        "# Models",
        "",
        "FlagEmbedding's model names (the name rule: the last path component, `checkpoint-*` → its parent folder), "
        "the model class each goes to, the family distribution that serves it, and the defaults the family's "
        "claim sets (an argument you pass wins). Generated when this site was built, from `flagcore.known_models` "
        "and the plugins installed then; `flagcore explain NAME` and `flagcore plugins` say the same for your "
        "installation. Other models are claimed by their `config.json` and files: see "
        "[Resolution rules](resolution.md).",
        "",
        "A model marked *trust_remote_code* runs code from its repository; flagcore never turns that on for you "
        "(pass `trust_remote_code=True`).",
        "",
    ]
    for kind, title in (("embedder", "Embedders (`FlagAutoModel`)"), ("reranker", "Rerankers (`FlagAutoReranker`)")):
        lines += [f"## {title}", ""]
        if kind == "embedder":
            lines += ["| model name | model class | family distribution | pooling | query instruction format "
                      "| installed |", "| --- | --- | --- | --- | --- | --- |"]
        else:
            lines += ["| model name | model class | family distribution | installed |", "| --- | --- | --- | --- |"]
        for name, known in KNOWN_MODELS[kind].items():
            version = _installed(known.distribution)
            entry = registry.get(kind, known.model_class)
            defaults: dict = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                claims = explain(name, kind=kind) if entry is not None else []
            for claim in claims:
                if claim.model_class == known.model_class:
                    defaults = dict(claim.defaults)
                    break
            if version and entry is not None:
                installed = f"yes ({version})"
            elif version:
                installed = f"{version}, class not registered"
            else:
                installed = (f"no: `{checkout_command([EXTRAS[known.extra]])}` (once published: "
                             f"`pip install 'flagcore[{known.extra}]'`)")
            remote = " (*trust_remote_code*)" if defaults.get("trust_remote_code") else ""
            row = [f"`{name}`{remote}", f"`{known.model_class}`", f"`{known.distribution}`"]
            if kind == "embedder":
                for parameter in ("pooling_method", "query_instruction_format"):
                    value = defaults.get(parameter)
                    if value is None and entry is not None:
                        value = _class_default(entry, parameter)
                    row.append(_cell(value))
            row.append(installed)
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += [
        "## Model classes of the installed plugins",
        "",
        "| plugin | distribution | embedder classes | reranker classes | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in plugins:
        lines.append(f"| `{p.name}` | {p.distribution} {p.version} | "
                     f"{', '.join(f'`{c}`' for c in p.embedders) or '—'} | "
                     f"{', '.join(f'`{c}`' for c in p.rerankers) or '—'} | {p.description or '—'} |")
    if not plugins:
        lines.append("| — | no family plugin was installed when this site was built | — | — | — |")
    return "\n".join(lines) + "\n"


# Members that the package's namespace hides behind a submodule of the same name (``flagcore.resolve`` is both the
# function, imported in ``flagcore/__init__.py``, and the module it comes from): rendered from where they are defined.
SHADOWED = {"flagcore": ["flagcore.resolve.resolve"]}


def api_page(module: str, intro: str) -> str:
    text = f"# `{module}`\n\n{intro}\n\n::: {module}\n"
    for path in SHADOWED.get(module, []):
        text += f"\n::: {path}\n    options:\n      show_root_heading: true\n      show_root_full_path: false\n"
    return text


def _report_module():
    spec = importlib.util.spec_from_file_location("_benchmarks_report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_plots() -> str:
    captions = {
        "throughput-minilm.png": "Throughput of each library in the latest all-MiniLM-L6-v2 run (the whole corpus).",
        "throughput-smollm2.png": "Throughput in the latest decoder-only run (SmolLM2-135M-Instruct, on a subset "
                                  "of the corpus).",
        "roofline.png": "flagcore's fraction of the roofline (the corpus's real-token FLOPs at the measured fp32 "
                        "GEMM rate) in every recorded run.",
    }
    lines = [
        "# Benchmark plots",
        "",
        "Drawn when this site was built, by `write_plots` in `benchmarks/report.py`, from every run recorded in "
        "`benchmarks/results.jsonl`. The numbers, the machines and the method are on [Benchmarks](benchmarks.md). "
        "Runs on different machines are not comparable with each other.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for path in _report_module().write_plots(ROOT / "benchmarks" / "results.jsonl", Path(tmp)):
            with mkdocs_gen_files.open(f"images/{path.name}", "wb") as out:
                out.write(path.read_bytes())
            lines += [f"![{path.stem}](images/{path.name})", "", captions.get(path.name, ""), ""]
    return "\n".join(lines)


def main() -> None:
    pages = {"models.md": models_page(), "benchmark-plots.md": benchmark_plots()}
    pages.update({path: api_page(module, intro) for path, (module, intro) in API_PAGES.items()})
    assert set(pages) == set(GENERATED), "update GENERATED with the pages written"
    for path, text in pages.items():
        with mkdocs_gen_files.open(path, "w") as out:
            out.write(text)


main()
