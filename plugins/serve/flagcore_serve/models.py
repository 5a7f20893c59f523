"""The served models: :class:`ServedModel` (a flagcore model, what it computes, its batcher and tokenizer thread),
and :func:`load_models`, which builds and warms them up from ``flagcore serve``'s model arguments."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Union

from flagcore import model_kind
from flagcore.family import DENSE, MULTI_VECTOR, SPARSE, TOKEN_EMBEDDINGS, Work

from .batching import DynamicBatcher
from .settings import ServeSettings

ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
#: the server's names for an embedder's outputs (its routes and ``/v1/models``), and flagcore's name of each
SERVED_OUTPUTS = {"dense": DENSE, "sparse": SPARSE, "colbert": MULTI_VECTOR, "token_embeddings": TOKEN_EMBEDDINGS}


@dataclass(frozen=True)
class EmbedKey:
    """How an embedding request runs; the batcher runs waiting requests with equal keys together. ``output``: a
    served output name (``SERVED_OUTPUTS``); ``query``: the side (instruction, prompt, route); ``prompt_name``: one of
    the model's own prompts instead of the side's."""

    output: str = "dense"
    query: bool = False
    prompt_name: str | None = None


#: the key of every reranker request: they all run alike
SCORE_KEY = "score"
RunKey = Union[EmbedKey, str]


@dataclass(eq=False)
class ServedModel:
    """One model behind the server: its names, the flagcore model, what it computes, and its batcher."""

    name: str
    model: Any
    kind: str  # "embedder" or "reranker"
    source: str
    aliases: tuple[str, ...] = ()
    batcher: DynamicBatcher | None = None
    tokenizer_thread: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "flagcore-tokenize"))
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def outputs(self) -> frozenset[str]:
        """The served outputs of an embedder (dense, sparse, colbert): what the model declares it can give."""
        if self.kind != "embedder":
            return frozenset()
        available = self.model.available_outputs
        return frozenset(name for name, kind in SERVED_OUTPUTS.items() if kind in available)

    def prepare(self, key: RunKey, inputs: Any) -> Work:
        """The prepare stage of one request (on the model's tokenizer thread): texts for an embedder's
        ``(output, query)`` key, (query, document) pairs for a reranker."""
        if self.kind == "reranker":
            return self.model.prepare_pairs(inputs, normalize=False, show_progress_bar=False)
        key = _embedding_key(key)
        return self.model.prepare_side(inputs, query=key.query, prompt_name=key.prompt_name,
                                       outputs={SERVED_OUTPUTS[key.output]}, convert_to_numpy=True,
                                       show_progress_bar=False)

    def run(self, key: RunKey, work: Work) -> Any:
        """One merged run of the batcher: per-row outputs (dense rows as an array; sparse and ColBERT rows and
        reranker scores as lists; a layer-wise reranker's scores at its highest cutoff layer)."""
        if self.kind == "reranker":
            return self.model.infer(work).final
        return self.model.infer(work).output(SERVED_OUTPUTS[_embedding_key(key).output])


def _embedding_key(key: RunKey) -> EmbedKey:
    if not isinstance(key, EmbedKey):
        raise TypeError(f"an embedder's runs are keyed by an EmbedKey, not {key!r}")
    return key


def parse_spec(spec: str) -> tuple[str | None, str]:
    """``ALIAS=PATH`` → (alias, path); a plain path or name → (None, it)."""
    alias, sep, path = spec.partition("=")
    if sep and path and ALIAS.match(alias) and not os.path.exists(spec):
        return alias, path
    return None, spec


def load_models(specs: list[str], settings: ServeSettings, **kwargs: Any) -> list[ServedModel]:
    """Build every model of ``specs``; ``kwargs`` (devices, max_batch_tokens, ...) go to ``from_finetuned``."""
    from flagcore import FlagAutoModel, FlagAutoReranker

    served: list[ServedModel] = []
    for spec in specs:
        alias, path = parse_spec(spec)
        kind = model_kind(path)
        factory = FlagAutoReranker if kind == "reranker" else FlagAutoModel
        model = factory.from_finetuned(path, **kwargs)
        base = os.path.basename(os.path.normpath(path))
        names = (alias,) if alias else (path, *((base,) if base and base != path else ()))
        served.append(ServedModel(names[0], model, kind, path, aliases=names[1:]))
    taken: dict[str, str] = {}
    for item in served:
        for name in (item.name, *item.aliases):
            if name in taken and item.name == name:
                raise ValueError(f"two models are served as {name!r}; name them: ALIAS=PATH")
            taken.setdefault(name, item.name)
    for item in served:
        _warm_up(item)
    return served


def _warm_up(item: ServedModel) -> None:
    """Run each output once: the first call places the model (and converts it, for OpenVINO)."""
    if item.kind == "reranker":
        item.run(SCORE_KEY, item.prepare(SCORE_KEY, [("warm up", "warm up")]))
        return
    for output in sorted(item.outputs):
        key = EmbedKey(output)
        item.run(key, item.prepare(key, ["warm up"]))
