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
from flagcore.family import DENSE, MULTI_VECTOR, SPARSE, TOKEN_EMBEDDINGS, Work, accelerators

from .batching import DynamicBatcher
from .grouping import length_groups, reassemble, subset
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
    #: the fixed cost of one forward in tokens' worth (measured at warm-up on a single CPU device, see
    #: :func:`_forward_overhead`): a merged run is split into forwards of similar lengths
    #: (:func:`~flagcore_serve.grouping.length_groups`); None: every run goes to the library whole
    forward_overhead: float | None = None

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
        reranker scores as lists; a layer-wise reranker's scores at its highest cutoff layer). With a measured
        ``forward_overhead``, the rows run in groups of similar lengths."""
        if self.forward_overhead is None or work.rows < 2:
            return self.run_whole(key, work)
        lengths = [len(ids) for ids in work.columns["input_ids"]]
        groups = length_groups(lengths, self.forward_overhead, self.model.batch_token_budget, work.batch_size)
        if len(groups) == 1:
            return self.run_whole(key, work)
        return reassemble([self.run_whole(key, subset(work, rows)) for rows in groups], groups)

    def run_whole(self, key: RunKey, work: Work) -> Any:
        """``work`` run by the library as one call (its own batching under the token budget)."""
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
    _warm_up_apart(served)
    return served


def _warm_up_apart(served: list[ServedModel]) -> None:
    """Warm every model up on a thread of its own that ends after, never on the caller's (the event loop's) thread.
    torch's OpenMP thread pool belongs to the thread that runs a parallel op; a pool left parked on the main thread
    beside the batcher thread's makes libgomp's threads outnumber the cores, and libgomp then stops spinning between
    parallel regions: every small op of a run pays a thread wake-up (a 1-text run of all-MiniLM-L6-v2 on 2 cores took
    16.6 ms instead of 11.0 ms). The warm-up thread's pool ends with it."""
    with ThreadPoolExecutor(1, "flagcore-warm-up") as pool:
        for item in served:
            pool.submit(_warm_up, item).result()


def _warm_up(item: ServedModel) -> None:
    """Run each output once: the first call places the model (and converts it, for OpenVINO); then, on a single CPU
    device, measure the model's ``forward_overhead``."""
    if item.kind == "reranker":
        item.run(SCORE_KEY, item.prepare(SCORE_KEY, [("warm up", "warm up")]))
    for output in sorted(item.outputs):
        key = EmbedKey(output)
        item.run(key, item.prepare(key, ["warm up"]))
    single_cpu = len(item.model.target_devices) == 1 and not accelerators(item.model.target_devices)
    if single_cpu and (item.kind == "reranker" or item.outputs):
        item.forward_overhead = _forward_overhead(item)


def _forward_overhead(item: ServedModel, repeats: int = 3) -> float | None:
    """The fixed cost of one forward in tokens' worth: the best of ``repeats`` timings of a forward of 1 short row
    and of one of 8 rows 4 times longer give the cost of a token and what a forward costs beyond its tokens. None
    when the timings do not tell (a token costs nothing measurable): runs are not split then."""
    key: RunKey = SCORE_KEY if item.kind == "reranker" else EmbedKey("dense" if "dense" in item.outputs
                                                                      else min(item.outputs))
    probes = []
    for rows, words in ((1, 6), (8, 24)):
        text = " ".join(["warm up"] * words)
        inputs = [(text, text)] * rows if item.kind == "reranker" else [text] * rows
        work = item.prepare(key, inputs)
        padded = work.rows * max(len(ids) for ids in work.columns["input_ids"])
        seconds = min(_timed(item.run_whole, key, work) for _ in range(repeats))
        probes.append((padded, seconds))
    (small, small_s), (large, large_s) = probes
    per_token = (large_s - small_s) / max(large - small, 1)
    if per_token <= 0:
        return None
    return max(0.0, small_s / per_token - small)


def _timed(run: Any, *args: Any) -> float:
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start
