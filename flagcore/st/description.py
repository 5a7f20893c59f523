"""What a sentence-transformers model folder declares, read from its JSON files without torch.

Both layouts are read: the older one (``sentence_transformers.models.Pooling``, boolean ``pooling_mode_*_tokens``
keys, ``word_embedding_dimension``, ``max_seq_length`` in ``sentence_bert_config.json``) and the current one (module
paths such as ``sentence_transformers.sentence_transformer.modules.pooling.Pooling``, ``"pooling_mode": "mean"``,
``embedding_dimension``, the length in the tokenizer's ``model_max_length``). A module type or a setting flagcore
does not implement is a :class:`SentenceTransformersFormatError` naming it and its file: never skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .files import Declared, SentenceTransformersFormatError, read_json
from .modules import (
    DenseModule,
    LayerNormModule,
    NormalizeModule,
    PoolingModule,
    RouterModule,
    TransformerModule,
    parse_module,
)

Module = Union[TransformerModule, PoolingModule, DenseModule, NormalizeModule, LayerNormModule, RouterModule]

MODULES_FILE = "modules.json"
MODEL_CONFIG_FILE = "config_sentence_transformers.json"
SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")
_SIMILARITY_ALIASES = {"dot_product": "dot"}
#: where ``encode_corpus`` looks for its prompt, in order (sentence-transformers' ``encode_document``)
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


@dataclass(frozen=True)
class Description:
    """The whole sentence-transformers description of a model folder."""

    folder: Path
    modules: tuple[Module, ...]
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: Declared | None = None
    truncate_dim: Declared | None = None
    max_length: Declared | None = None
    saved_by: str | None = None

    # -- what the chain after the transformer does ---------------------------------------------------------------
    @property
    def transformer(self) -> TransformerModule:
        return next(m for m in self.modules if isinstance(m, TransformerModule))

    @property
    def head(self) -> tuple[Module, ...]:
        """The modules after the transformer, in order."""
        return tuple(m for m in self.modules if not isinstance(m, TransformerModule))

    @property
    def pooling(self) -> PoolingModule | None:
        return next((m for m in self.head if isinstance(m, PoolingModule)), None)

    @property
    def ends_normalized(self) -> bool:
        """The last module L2-normalises (on every route, for a Router)."""
        return bool(self.head) and _normalizes(self.head[-1])

    @property
    def has_routes(self) -> bool:
        return any(isinstance(m, RouterModule) for m in self.head)

    # -- prompts -----------------------------------------------------------------------------------------------
    def prompt_for(self, task: str | None) -> Declared | None:
        """The prompt ``encode_queries`` (task "query"), ``encode_corpus`` ("document") or ``encode`` (None)
        prepends, as sentence-transformers' ``encode_query`` / ``encode_document`` / ``encode`` choose it."""
        source = f"{MODEL_CONFIG_FILE} prompts"
        if task == "query":
            return Declared(self.prompts["query"], f"{source}['query']") if "query" in self.prompts else None
        if task == "document":
            for name in DOCUMENT_PROMPT_NAMES:
                if name in self.prompts:
                    return Declared(self.prompts[name], f"{source}[{name!r}]")
            return None
        if self.default_prompt_name is not None:
            return Declared(self.prompts[self.default_prompt_name],
                            f"{source}[{self.default_prompt_name!r}] (default_prompt_name)")
        return None

    def describe(self) -> list[str]:
        """What was read, a line each, with where it came from: for ``flagcore explain``."""
        saved = f", saved by sentence-transformers {self.saved_by}" if self.saved_by else ""
        lines = [f"modules ({MODULES_FILE}{saved}): " + " -> ".join(m.label for m in self.modules)]
        lines += [f"  {m.label}: {m.summary}" for m in self.modules]
        for task, call in (("query", "encode_queries"), ("document", "encode_corpus"), (None, "encode")):
            prompt = self.prompt_for(task)
            lines.append(f"prompt of {call}: " + (f"{prompt.value!r} ({prompt.source})" if prompt else "none"))
        for name, declared in (("max length", self.max_length), ("similarity", self.similarity_fn_name),
                               ("truncate_dim", self.truncate_dim)):
            if declared is not None:
                lines.append(f"{name}: {declared.value} ({declared.source})")
        return lines


def _normalizes(module: Module) -> bool:
    if isinstance(module, NormalizeModule):
        return True
    if isinstance(module, RouterModule):
        return all(route and _normalizes(route[-1]) for route in module.routes.values())
    return False


def has_description(folder: Path) -> bool:
    return (folder / MODULES_FILE).is_file()


def read_description(folder: str | Path, config: dict[str, Any] | None = None) -> Description:
    """Read a folder's ``modules.json`` and the files it points to. ``config``: the folder's config.json (for the
    hidden size the module sizes are checked against, and the position table the length is capped at)."""
    folder = Path(folder)
    listed = read_json(folder / MODULES_FILE, list)
    modules: list[Module] = []
    for number, entry in enumerate(listed):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise SentenceTransformersFormatError(
                f"{folder / MODULES_FILE}: entry {number} has no module \"type\"; each entry needs \"type\" and "
                "\"path\", as sentence-transformers writes them")
        modules.append(parse_module(folder, entry["type"], _module_path(folder, entry), top_level=True))
    transformers = [m for m in modules if isinstance(m, TransformerModule)]
    if not modules or not isinstance(modules[0], TransformerModule) or len(transformers) != 1:
        raise SentenceTransformersFormatError(
            f"{folder / MODULES_FILE}: flagcore serves models whose first module is one Transformer followed by "
            f"pooling and post-processing modules; this one lists {[m.label for m in modules]}")
    model_config = read_json(folder / MODEL_CONFIG_FILE, dict) if (folder / MODEL_CONFIG_FILE).is_file() else {}
    _check_model_type(folder, model_config)
    prompts, default_name = _prompts(folder, model_config)
    hidden = (config or {}).get("hidden_size") or (config or {}).get("d_model")
    if isinstance(hidden, int):
        _check_sizes(folder, modules, hidden)
    version = model_config.get("__version__", {})
    return Description(
        folder=folder, modules=tuple(modules), prompts=prompts, default_prompt_name=default_name,
        similarity_fn_name=_similarity(folder, model_config), truncate_dim=_truncate_dim(folder, model_config),
        max_length=_max_length(folder, transformers[0], config),
        saved_by=version.get("sentence_transformers") if isinstance(version, dict) else None,
    )


def _module_path(folder: Path, entry: dict[str, Any]) -> str:
    path = entry.get("path", "")
    if not isinstance(path, str) or path.startswith("/") or ".." in Path(path).parts:
        raise SentenceTransformersFormatError(
            f"{folder / MODULES_FILE}: module path {path!r} must be a folder inside the model directory")
    return path.strip("/")


def _check_model_type(folder: Path, model_config: dict[str, Any]) -> None:
    model_type = model_config.get("model_type", "SentenceTransformer")
    if model_type != "SentenceTransformer":
        raise SentenceTransformersFormatError(
            f"{folder / MODEL_CONFIG_FILE} says model_type {model_type!r}: a sentence-transformers {model_type}, not a "
            "dense SentenceTransformer embedder, which is what flagcore's embedders serve")


def _prompts(folder: Path, model_config: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    where = folder / MODEL_CONFIG_FILE
    prompts = model_config.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, (str, type(None)))
                                                for k, v in prompts.items()):
        raise SentenceTransformersFormatError(f"{where}: \"prompts\" must map prompt names to strings, not {prompts!r}")
    prompts = {name: text or "" for name, text in prompts.items()}
    default_name = model_config.get("default_prompt_name")
    if default_name is not None and default_name not in prompts:
        raise SentenceTransformersFormatError(
            f"{where}: default_prompt_name {default_name!r} is not one of its prompts {sorted(prompts)}")
    return prompts, default_name


def _similarity(folder: Path, model_config: dict[str, Any]) -> Declared | None:
    name = model_config.get("similarity_fn_name")
    if name is None:
        return None
    name = _SIMILARITY_ALIASES.get(name, name)
    if name not in SIMILARITY_FUNCTIONS:
        raise SentenceTransformersFormatError(
            f"{folder / MODEL_CONFIG_FILE}: similarity_fn_name {name!r} is not one flagcore computes "
            f"({', '.join(SIMILARITY_FUNCTIONS)})")
    return Declared(name, f"{MODEL_CONFIG_FILE} similarity_fn_name")


def _truncate_dim(folder: Path, model_config: dict[str, Any]) -> Declared | None:
    value = model_config.get("truncate_dim")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SentenceTransformersFormatError(f"{folder / MODEL_CONFIG_FILE}: truncate_dim {value!r} is not a "
                                              "positive integer")
    return Declared(value, f"{MODEL_CONFIG_FILE} truncate_dim")


#: a tokenizer_config.json model_max_length at or above this means "no limit set" (transformers writes 1e30)
_UNSET_LENGTH = 1_000_000


def _max_length(folder: Path, transformer: TransformerModule, config: dict[str, Any] | None) -> Declared | None:
    """The length the model truncates to: the Transformer module's, else the tokenizer's ``model_max_length``
    capped at the position table (as sentence-transformers reads it)."""
    if transformer.max_seq_length is not None:
        return transformer.max_seq_length
    tokenizer_config = folder / transformer.path / "tokenizer_config.json"
    if not tokenizer_config.is_file():
        return None
    try:
        with open(tokenizer_config, encoding="utf-8") as fh:
            value = json.load(fh).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(value, (int, float)) or value >= _UNSET_LENGTH or value < 1:
        value = None
    positions = (config or {}).get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0 and (value is None or positions < value):
        return Declared(positions, "config.json max_position_embeddings (the tokenizer sets no lower limit)")
    if value is None:
        return None
    return Declared(int(value), "tokenizer_config.json model_max_length")


def _check_sizes(folder: Path, modules: list[Module], hidden: int) -> None:
    """Each module's declared input width matches what reaches it (the transformer's hidden size, then the pooled
    width, then each Dense's output), or an error naming the module's file."""
    width = hidden
    for module in modules[1:]:
        width = module.output_width(width, folder)




def claim_reason(probe: Any) -> str | None:
    """One line for a claim's reason about a probed folder's sentence-transformers files: None when it has none."""
    if probe.sentence_transformers_problem is not None:
        return ("sentence-transformers files flagcore cannot serve, refused at load: "
                f"{probe.sentence_transformers_problem}")
    description = probe.sentence_transformers
    if description is None:
        return None
    chain = " -> ".join(m.label for m in description.modules)
    return f"sentence-transformers modules {chain} (applied by flagcore)"
