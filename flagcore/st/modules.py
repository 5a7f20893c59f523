"""One sentence-transformers module as its folder declares it (``Transformer``, ``Pooling``, ``Dense``,
``Normalize``, ``LayerNorm``, ``Router`` / ``Asym``), read from JSON, checked, without torch."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import Declared, SentenceTransformersFormatError, read_json

#: sentence-transformers' class names flagcore implements, by the name a ``modules.json`` type ends with
SERVED_TYPES = ("Transformer", "Pooling", "Dense", "Normalize", "LayerNorm", "Router", "Asym")
#: type paths of other model kinds, whose classes of the same name work differently
_OTHER_KINDS = ("sentence_transformers.sparse_encoder.", "sentence_transformers.cross_encoder.",
                "sentence_transformers.multi_vector_encoder.")
TRANSFORMER_CONFIG_FILES = ("sentence_bert_config.json", "sentence_roberta_config.json",
                            "sentence_distilbert_config.json", "sentence_camembert_config.json",
                            "sentence_albert_config.json", "sentence_xlm-roberta_config.json",
                            "sentence_xlnet_config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: sentence-transformers' legacy boolean pooling keys, in the order it concatenates their outputs
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken",
}
_POOLING_MODES = {"cls": "cls", "mean": "mean", "max": "max", "mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                  "weightedmean": "weightedmean", "lasttoken": "last_token"}
_ACTIVATION = re.compile(r"^torch\.nn\.(?:modules\.activation\.|modules\.linear\.)?([A-Za-z][A-Za-z0-9]*)$")
_SENTENCE = "sentence_embedding"


def _error(message: str) -> Exception:
    return SentenceTransformersFormatError(message)


def _config(folder: Path, path: str, names: tuple[str, ...], required: bool) -> tuple[dict[str, Any], str | None]:
    for name in names:
        file = folder / path / name
        if file.is_file():
            return read_json(file, dict), f"{path}/{name}" if path else name
    if required:
        raise _error(f"{folder / path} has no {names[0]}: the module listed in modules.json is incomplete")
    return {}, None


def _weights_file(folder: Path, path: str, label: str) -> str:
    for name in WEIGHT_FILES:
        if (folder / path / name).is_file():
            return f"{path}/{name}" if path else name
    raise _error(f"{folder / path} holds no weights for the {label} module: expected model.safetensors or "
                 "pytorch_model.bin")


def _refuse_keys(config: dict[str, Any], allowed: set[str], where: str, label: str) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise _error(f"{where}: {label} setting(s) {unknown} are not implemented by flagcore (it implements "
                     f"{sorted(allowed)}); refusing rather than giving vectors that ignore them")


@dataclass(frozen=True)
class BaseModule:
    path: str
    type_name: str

    @property
    def label(self) -> str:
        return f"{self.type_name} ({self.path or '.'})"

    @property
    def summary(self) -> str:
        return ""

    def output_width(self, width: int, folder: Path) -> int:
        return width


@dataclass(frozen=True)
class TransformerModule(BaseModule):
    """The transformer: the family loads it; these are its tokenizer settings."""

    source: str | None = None
    max_seq_length: Declared | None = None
    do_lower_case: bool = False
    tokenizer_settings: dict[str, str] = field(default_factory=dict)  # padding_side, truncation_side

    @property
    def summary(self) -> str:
        parts = [f"settings from {self.source}" if self.source else "no settings file (defaults)"]
        if self.max_seq_length is not None:
            parts.append(f"max_seq_length {self.max_seq_length.value}")
        if self.do_lower_case:
            parts.append("lower-cases the input")
        parts += [f"{k} {v}" for k, v in self.tokenizer_settings.items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class PoolingModule(BaseModule):
    modes: tuple[str, ...] = ("mean",)  # flagcore's names (last_token for lasttoken)
    include_prompt: bool = True
    dimension: int | None = None
    source: str = ""

    @property
    def summary(self) -> str:
        return (f"{' + '.join(self.modes)} pooling{'' if self.include_prompt else ', prompt tokens excluded'} "
                f"({self.source})")

    def output_width(self, width: int, folder: Path) -> int:
        if self.dimension is not None and self.dimension != width:
            raise _error(f"{folder / self.source}: embedding_dimension is {self.dimension}, but the module before "
                         f"it gives {width}-dimensional token vectors; the file does not belong to this model")
        return width * len(self.modes)


@dataclass(frozen=True)
class DenseModule(BaseModule):
    in_features: int = 0
    out_features: int = 0
    bias: bool = True
    activation: str = "Tanh"  # a torch.nn class name
    use_residual: bool = False
    weights: str = ""
    source: str = ""

    @property
    def summary(self) -> str:
        return (f"{self.in_features} -> {self.out_features}, {'bias' if self.bias else 'no bias'}, "
                f"{self.activation}{', residual' if self.use_residual else ''} ({self.source}, {self.weights})")

    def output_width(self, width: int, folder: Path) -> int:
        if self.in_features != width:
            raise _error(f"{folder / self.source}: in_features is {self.in_features}, but the module before it "
                         f"gives {width}-dimensional vectors; the Dense sizes disagree with the model")
        return self.out_features


@dataclass(frozen=True)
class NormalizeModule(BaseModule):
    @property
    def summary(self) -> str:
        return "L2 normalisation"


@dataclass(frozen=True)
class LayerNormModule(BaseModule):
    dimension: int = 0
    weights: str = ""
    source: str = ""

    @property
    def summary(self) -> str:
        return f"layer norm over {self.dimension} ({self.source}, {self.weights})"

    def output_width(self, width: int, folder: Path) -> int:
        if self.dimension != width:
            raise _error(f"{folder / self.source}: dimension is {self.dimension}, but the module before it gives "
                         f"{width}-dimensional vectors")
        return width


@dataclass(frozen=True)
class RouterModule(BaseModule):
    """Separate module chains for queries and documents (``encode_queries`` takes route "query", ``encode_corpus``
    "document", ``encode`` the default)."""

    routes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    default_route: str | None = None
    mappings: dict[tuple[Any, Any], str] = field(default_factory=dict)
    source: str = ""

    @property
    def summary(self) -> str:
        routes = "; ".join(f"{name}: {' -> '.join(m.label for m in chain)}" for name, chain in self.routes.items())
        return f"routes {routes}; default {self.default_route!r} ({self.source})"

    def route_for(self, task: str | None) -> str:
        """The route a task takes, in sentence-transformers' order of precedence (text inputs)."""
        for key in ((task, "text"), (task, None), (None, "text"), (None, None)):
            if key in self.mappings:
                return self.mappings[key]
        if task is not None and task in self.routes:
            return task
        if self.default_route is not None:
            return self.default_route
        raise _error(f"{self.source}: no route for task {task!r} and no default route; routes: {sorted(self.routes)}")

    def output_width(self, width: int, folder: Path) -> int:
        widths = set()
        for chain in self.routes.values():
            route_width = width
            for module in chain:
                route_width = module.output_width(route_width, folder)
            widths.add(route_width)
        if len(widths) > 1:
            raise _error(f"{folder / self.source}: the routes give vectors of different widths {sorted(widths)}")
        return widths.pop() if widths else width


def served_type_name(type_path: str) -> str | None:
    """The class name of a ``modules.json`` type flagcore implements, or None."""
    if not type_path.startswith("sentence_transformers.") or type_path.startswith(_OTHER_KINDS):
        return None
    name = type_path.rsplit(".", 1)[-1]
    return name if name in SERVED_TYPES else None


def parse_module(folder: Path, type_path: str, path: str, *, top_level: bool) -> Any:
    """The module at ``folder/path`` declared as ``type_path`` in modules.json (or a Router's types)."""
    name = served_type_name(type_path)
    if name is None:
        raise _error(f"{folder / 'modules.json'}: module {type_path!r} at {path or '.'!r} is not one flagcore "
                     f"implements ({', '.join(SERVED_TYPES)} of sentence-transformers); it runs no module code from "
                     "a model, so this model cannot be served without changing its vectors")
    if name == "Transformer":
        if not top_level:
            raise _error(f"{folder / path}: a Router route with its own Transformer (two separate encoders) is not "
                         "served by flagcore; routes after one shared Transformer are")
        return _transformer(folder, path)
    parser = {"Pooling": _pooling, "Dense": _dense, "Normalize": _normalize, "LayerNorm": _layer_norm,
              "Router": _router, "Asym": _router}[name]
    return parser(folder, path, name)


_MODEL_KEYS = {"trust_remote_code", "torch_dtype", "dtype", "attn_implementation"}
_TOKENIZER_KEYS = {"trust_remote_code", "model_max_length", "padding_side", "truncation_side"}


def _transformer(folder: Path, path: str) -> TransformerModule:
    config, source = _config(folder, path, TRANSFORMER_CONFIG_FILES, required=False)
    where = str(folder / source) if source else str(folder)
    _refuse_keys(config, {"max_seq_length", "do_lower_case", "transformer_task", "modality_config",
                          "module_output_name", "processing_kwargs", "unpad_inputs", "query_length",
                          "document_length", "query_expansion", "model_args", "model_kwargs", "tokenizer_args",
                          "processor_kwargs", "config_args", "config_kwargs"}, where, "Transformer")
    task = config.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise _error(f"{where}: transformer_task {task!r}; flagcore's embedders serve 'feature-extraction' models")
    if config.get("module_output_name", "token_embeddings") != "token_embeddings":
        raise _error(f"{where}: module_output_name {config['module_output_name']!r}; flagcore pools token embeddings")
    modality = config.get("modality_config")
    expected = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}
    if modality is not None and modality != expected:
        raise _error(f"{where}: modality_config {json.dumps(modality)} is not the text-only {json.dumps(expected)} "
                     "flagcore serves")
    for key in ("processing_kwargs", "query_length", "document_length", "query_expansion"):
        if config.get(key):
            raise _error(f"{where}: {key} {json.dumps(config[key])} is not implemented by flagcore")
    model_kwargs = {**(config.get("model_args") or {}), **(config.get("model_kwargs") or {})}
    tokenizer_kwargs = {**(config.get("tokenizer_args") or {}), **(config.get("processor_kwargs") or {})}
    config_kwargs = {**(config.get("config_args") or {}), **(config.get("config_kwargs") or {})}
    _refuse_keys(model_kwargs, _MODEL_KEYS, where, "model_kwargs")
    _refuse_keys(tokenizer_kwargs, _TOKENIZER_KEYS, where, "tokenizer/processor kwargs")
    _refuse_keys(config_kwargs, {"trust_remote_code"}, where, "config_kwargs")
    length = config.get("max_seq_length")
    declared = None
    if length is not None:
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise _error(f"{where}: max_seq_length {length!r} is not a positive integer")
        declared = Declared(length, f"{source} max_seq_length")
    elif isinstance(tokenizer_kwargs.get("model_max_length"), int):
        declared = Declared(tokenizer_kwargs["model_max_length"], f"{source} tokenizer model_max_length")
    lower = config.get("do_lower_case", False)
    if not isinstance(lower, bool):
        raise _error(f"{where}: do_lower_case {lower!r} is not true or false")
    settings = {k: v for k, v in tokenizer_kwargs.items() if k in ("padding_side", "truncation_side")}
    for key, value in settings.items():
        if value not in ("left", "right"):
            raise _error(f"{where}: {key} {value!r} is not 'left' or 'right'")
    return TransformerModule(path, "Transformer", source, declared, lower, settings)


def _pooling(folder: Path, path: str, name: str) -> PoolingModule:
    config, source = _config(folder, path, ("config.json",), required=True)
    assert source is not None
    where = str(folder / source)
    _refuse_keys(config, {"embedding_dimension", "word_embedding_dimension", "pooling_mode", "include_prompt",
                          *LEGACY_POOLING_KEYS}, where, "Pooling")
    modes: Any = config.get("pooling_mode")
    if modes is None:
        modes = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    modes = [modes] if isinstance(modes, str) else modes
    if not isinstance(modes, list) or not modes or any(m not in _POOLING_MODES for m in modes):
        raise _error(f"{where}: pooling_mode {json.dumps(config.get('pooling_mode'))} is not one of, or a list "
                     f"of, {', '.join(_POOLING_MODES)}")
    dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if dimension is not None and (not isinstance(dimension, int) or isinstance(dimension, bool)):
        raise _error(f"{where}: embedding_dimension {dimension!r} is not an integer")
    include = config.get("include_prompt", True)
    if not isinstance(include, bool):
        raise _error(f"{where}: include_prompt {include!r} is not true or false")
    return PoolingModule(path, name, tuple(_POOLING_MODES[m] for m in modes), include, dimension, source)


def _positive(config: dict[str, Any], key: str, where: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _error(f"{where}: {key} {value!r} is not a positive integer")
    return value


def _sentence_embedding_only(config: dict[str, Any], where: str) -> None:
    for key in ("module_input_name", "module_output_name"):
        if config.get(key, _SENTENCE) not in (_SENTENCE, None):
            raise _error(f"{where}: {key} {config[key]!r}; flagcore applies this module to the sentence embedding "
                         "only")


def _dense(folder: Path, path: str, name: str) -> DenseModule:
    config, source = _config(folder, path, ("config.json",), required=True)
    assert source is not None
    where = str(folder / source)
    _refuse_keys(config, {"in_features", "out_features", "bias", "activation_function", "module_input_name",
                          "module_output_name", "use_residual"}, where, "Dense")
    _sentence_embedding_only(config, where)
    activation_path = config.get("activation_function", "torch.nn.modules.activation.Tanh")
    match = _ACTIVATION.match(activation_path) if isinstance(activation_path, str) else None
    if match is None:
        raise _error(f"{where}: activation_function {activation_path!r} is not a torch.nn activation class; flagcore "
                     "runs no code from model files")
    bias, residual = config.get("bias", True), config.get("use_residual", False)
    if not isinstance(bias, bool) or not isinstance(residual, bool):
        raise _error(f"{where}: bias and use_residual must be true or false")
    return DenseModule(path, name, _positive(config, "in_features", where), _positive(config, "out_features", where),
                       bias, match.group(1), residual, _weights_file(folder, path, name), source)


def _normalize(folder: Path, path: str, name: str) -> NormalizeModule:
    config, source = _config(folder, path, ("config.json",), required=False)
    if source is not None:
        _refuse_keys(config, {"module_input_name", "module_output_name"}, str(folder / source), "Normalize")
        _sentence_embedding_only(config, str(folder / source))
    return NormalizeModule(path, name)


def _layer_norm(folder: Path, path: str, name: str) -> LayerNormModule:
    config, source = _config(folder, path, ("config.json",), required=True)
    assert source is not None
    where = str(folder / source)
    _refuse_keys(config, {"dimension"}, where, "LayerNorm")
    return LayerNormModule(path, name, _positive(config, "dimension", where), _weights_file(folder, path, name),
                           source)


def _router(folder: Path, path: str, name: str) -> RouterModule:
    config, source = _config(folder, path, ("router_config.json", "config.json"), required=True)
    assert source is not None
    where = str(folder / source)
    types, structure = config.get("types"), config.get("structure")
    if not isinstance(types, dict) or not isinstance(structure, dict) or not structure:
        raise _error(f"{where}: a Router config needs \"types\" and \"structure\" objects")
    modules = {}
    for module_id, type_path in types.items():
        if not isinstance(type_path, str) or "/" in module_id or module_id.startswith("."):
            raise _error(f"{where}: module {module_id!r} of type {type_path!r} is not a module inside the Router")
        modules[module_id] = parse_module(folder, type_path, f"{path}/{module_id}" if path else module_id,
                                          top_level=False)
    routes = {}
    for route, ids in structure.items():
        if not isinstance(ids, list) or any(i not in modules for i in ids):
            raise _error(f"{where}: route {route!r} lists modules {ids!r}, not all of them in \"types\"")
        routes[route] = tuple(modules[i] for i in ids)
    parameters = config.get("parameters") or {}
    default = parameters.get("default_route")
    if default is None and parameters.get("allow_empty_key", True):
        default = next(iter(routes))
    mappings = {}
    for key, route in (parameters.get("route_mappings") or {}).items():
        try:
            parsed = ast.literal_eval(key)
        except (ValueError, SyntaxError):
            parsed = None
        if not (isinstance(parsed, tuple) and len(parsed) == 2) or route not in routes:
            raise _error(f"{where}: route mapping {key!r} -> {route!r} is not a (task, modality) pair naming a route")
        mappings[(parsed[0], tuple(sorted(parsed[1])) if isinstance(parsed[1], tuple) else parsed[1])] = route
    return RouterModule(path, name, routes, default, mappings, source)
