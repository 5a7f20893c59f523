"""What embedders and rerankers share: their common constructor arguments, the three stages of every call
(``prepare`` → ``run`` → ``finish``, then ``present`` at the public API's edge) and the model's
:class:`~flagcore.engine.engine.Engine`, which owns devices, precision, quantization, backend and the batched run."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generic, Mapping, TypeVar

from .engine.engine import DEFAULT_ACCELERATOR_BATCH_TOKENS, DEFAULT_CPU_BATCH_TOKENS, Engine
from .engine.padding import Columns, tokenizer_pad_values
from .flagembedding_workers import FlagEmbeddingWorkerMethods
from .inputs import check_bool, constructor_arguments, positive_int, reject_unknown, split_call_options
from .limits import holder_position_limit

if TYPE_CHECKING:
    from .engine.devices import DevicesArg
    from .outputs import Ran

__all__ = ["DEFAULT_ACCELERATOR_BATCH_TOKENS", "DEFAULT_CPU_BATCH_TOKENS", "Columns", "InferenceModel"]

WorkT = TypeVar("WorkT")
ResultT = TypeVar("ResultT")


class EngineAttribute:
    """An attribute of the model that its engine holds (read and set through the model, as FlagEmbedding's are)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, model: Any, owner: type | None = None) -> Any:
        return self if model is None else getattr(model.engine, self.name)

    def __set__(self, model: Any, value: Any) -> None:
        setattr(model.engine, self.name, value)


class InferenceModel(FlagEmbeddingWorkerMethods, ABC, Generic[WorkT, ResultT]):
    """Base of :class:`~flagcore.AbsEmbedder` and :class:`~flagcore.AbsReranker`.

    A family's ``__init__`` calls ``super().__init__(...)`` with the shared arguments, then loads ``self.tokenizer``
    and ``self.model`` (in ``self.torch_dtype``). Unknown keyword arguments are rejected here with the list of the
    accepted ones. Every public call is ``present(work, finish(work, run(work)))`` of the work its ``prepare_*``
    stage made; front ends (streams, the server, Ray) call the stages themselves.
    """

    #: extra keyword arguments a family's encode/compute_score accepts (forwarded to its batch hook)
    call_options: ClassVar[frozenset[str]] = frozenset()
    _core_call_options: ClassVar[frozenset[str]] = frozenset({"pad_to_multiple_of", "show_progress_bar"})
    #: padded widths are rounded up to a multiple of this when a call does not pass ``pad_to_multiple_of`` (never
    #: past a learned position table: a batch that would round past it is padded to the table's length)
    default_pad_to_multiple_of: ClassVar[int | None] = None
    #: padded tokens per batch on a CPU when ``max_batch_tokens`` is not given (a family with costlier tokens may
    #: want smaller batches: less padding, the same GEMM rate)
    default_cpu_batch_tokens: ClassVar[int] = DEFAULT_CPU_BATCH_TOKENS
    #: the ``backend=`` values the class serves; "openvino" converts the module at ``backbone_path``
    backends: ClassVar[tuple[str, ...]] = ("torch",)
    #: dotted attribute path, from the instance, of the torch module another backend replaces
    backbone_path: ClassVar[str] = "model"
    #: the attention implementation the OpenVINO conversion traces (None: the module's own; see TraceOptions)
    openvino_attention: ClassVar[str | None] = None
    #: the run's progress bar: its title and what it counts
    progress_label: ClassVar[tuple[str, str]] = ("Running", "row")

    use_fp16 = EngineAttribute()
    use_bf16 = EngineAttribute()
    target_devices = EngineAttribute()
    quantize = EngineAttribute()
    backend = EngineAttribute()
    max_batch_tokens = EngineAttribute()
    device = EngineAttribute()
    compute_dtype = EngineAttribute()
    cpu_bf16 = EngineAttribute()
    torch_dtype = EngineAttribute()
    batch_token_budget = EngineAttribute()
    device_pool = EngineAttribute()

    init_spec: tuple[tuple[Any, ...], dict[str, Any]]
    engine: Engine

    def __new__(cls, *args: Any, **kwargs: Any) -> InferenceModel:
        instance = super().__new__(cls)
        instance.init_spec = (args, kwargs)  # to build the same model in a worker process
        return instance

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        use_fp16: bool,
        use_bf16: bool,
        devices: DevicesArg,
        batch_size: int,
        trust_remote_code: bool,
        cache_dir: str | None,
        max_batch_tokens: int | None = None,
        quantize: str | None = None,
        backend: str = "torch",
        **kwargs: Any,
    ) -> None:
        reject_unknown(f"{type(self).__name__}()", kwargs, self.accepted_arguments())
        self.model_name_or_path = os.fspath(model_name_or_path)
        self.batch_size = positive_int(batch_size, "batch_size")
        self.trust_remote_code = check_bool(trust_remote_code, "trust_remote_code")
        self.cache_dir = cache_dir
        self.engine = Engine(
            type(self).__name__, devices=devices, use_fp16=check_bool(use_fp16, "use_fp16"),
            use_bf16=check_bool(use_bf16, "use_bf16"), quantize=quantize, backend=backend, backends=self.backends,
            max_batch_tokens=None if max_batch_tokens is None else positive_int(max_batch_tokens, "max_batch_tokens"),
            cpu_batch_tokens=self.default_cpu_batch_tokens)
        self.tokenizer: Any = None
        self.model: Any = None

    @classmethod
    def accepted_arguments(cls) -> set[str]:
        """Constructor argument names of this class and every base it forwards ``**kwargs`` to."""
        return constructor_arguments(cls, InferenceModel)

    # -- the stages ------------------------------------------------------------------------------------------------
    def run(self, work: WorkT) -> Ran:
        """The ``run`` stage: every batch of ``work`` through :meth:`forward_batch`, on the engine's devices."""
        desc, unit = self.progress_label
        return self.engine.run(self, work, desc=desc, unit=unit)  # type: ignore[arg-type]

    @abstractmethod
    def forward_batch(self, batch: dict[str, Any], step: Any) -> Any:
        """One padded batch (tensors on the device) → its raw output, for ``finish``."""

    @abstractmethod
    def finish(self, work: WorkT, ran: Ran) -> ResultT:
        """The ``finish`` stage: the run's batches → one typed result, rows in input order."""

    @abstractmethod
    def present(self, work: WorkT, result: ResultT) -> Any:
        """The public API's edge: the typed result in FlagEmbedding's shape for the call that made ``work``."""

    def infer(self, work: WorkT) -> ResultT:
        """``run`` then ``finish``: the typed result of prepared work."""
        return self.finish(work, self.run(work))

    def complete(self, work: WorkT) -> Any:
        """What the public call that prepared ``work`` returns."""
        return self.present(work, self.infer(work))

    @property
    def position_limit(self) -> int | None:
        """Tokens the model's learned position table covers (None: no such table, as with rotary positions)."""
        return holder_position_limit(self)

    def input_limit(self, *, query: bool = False) -> int:
        """Tokens of one input the model reads by default: its max length (a query's or a passage's for an
        embedder; a pair's for a reranker), within its position table."""
        length = self._default_max_length(query)
        limit = self.position_limit
        return length if limit is None else min(length, limit)

    def _default_max_length(self, query: bool) -> int:
        raise NotImplementedError

    def fp32_modules(self) -> list[Any]:
        """Modules placed on the device in fp32 whatever the model's precision (a family's small heads)."""
        return []

    # -- tokenized features ----------------------------------------------------------------------------------------
    @property
    def padding_side(self) -> str:
        return getattr(self.tokenizer, "padding_side", "right") or "right"

    def pad_values(self) -> Mapping[str, int]:
        return tokenizer_pad_values(self.tokenizer)

    def _split_call_options(
        self, method: Callable[..., Any], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(core options, family options) of a call; anything else is rejected. Core options come back checked:
        ``pad_to_multiple_of`` (the class default when not given; False: none) and ``show_progress_bar``."""
        core, family = split_call_options(f"{type(self).__name__}.{method.__name__}()", method, kwargs,
                                          self._core_call_options, self.call_options)
        pad = core.get("pad_to_multiple_of")
        if pad is None:
            core["pad_to_multiple_of"] = self.default_pad_to_multiple_of
        elif pad is not False:
            core["pad_to_multiple_of"] = positive_int(pad, "pad_to_multiple_of")
        return core, family

    # -- worker processes ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the worker processes of a multi-device model now (they also stop with the model, or at exit)."""
        self.engine.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model_name_or_path={self.model_name_or_path!r}, "
                f"device={self.device!r}, dtype={self.compute_dtype!r}"
                + (f", quantize={self.quantize!r}" if self.quantize else "")
                + (f", backend={self.backend!r})" if self.backend != "torch" else ")"))
