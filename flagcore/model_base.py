"""What embedders and rerankers share: their common constructor arguments, device and precision, and the batched
run of a call (tokenized columns → length-sorted batches → one step per padded batch, on one device or several).
The machinery itself lives in ``flagcore.engine``."""

from __future__ import annotations

import os
import warnings
from abc import ABC
from contextvars import ContextVar
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

from .engine.batching import Batcher, run_batches
from .engine.devices import DevicesArg, is_cpu, resolve_devices
from .engine.openvino import check_backend
from .engine.padding import Columns, pad_features, tokenizer_pad_values
from .engine.placement import place_model
from .engine.precision import DtypeName, check_quantize, compute_dtype_name, cpu_precision_notice, torch_dtype
from .inputs import constructor_arguments, flag, positive_int, reject_unknown, split_call_options
from .limits import holder_position_limit
from .pool_methods import FlagEmbeddingPoolMethods

if TYPE_CHECKING:
    import numpy as np

    from .engine.multi_device import MultiDeviceRunner
    from .engine.pool import DevicePool

# Padded tokens per batch when max_batch_tokens is not given. On a CPU, batches whose activations fit
# the last-level cache (2048 tokens of a 384-wide encoder: a 12 MB feed-forward block) ran ~4-7% faster
# than 4096 tokens in alternating runs; long texts get narrow batches, short texts wide ones.
DEFAULT_CPU_BATCH_TOKENS = 2048
DEFAULT_ACCELERATOR_BATCH_TOKENS = 65536

#: set by ``tokenize_inputs``: the public call stops once its inputs are tokenized and returns the columns
TOKENIZE_ONLY: ContextVar[bool] = ContextVar("flagcore_tokenize_only", default=False)


class InferenceModel(FlagEmbeddingPoolMethods, ABC):  # noqa: B024 - abstract through its subclasses
    """Base of :class:`~flagcore.AbsEmbedder` and :class:`~flagcore.AbsReranker`.

    A family's ``__init__`` calls ``super().__init__(...)`` with the shared arguments, then
    loads ``self.tokenizer`` and ``self.model`` (in ``self.torch_dtype``). Unknown keyword
    arguments are rejected here with the list of the accepted ones.
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

    _init_spec: tuple[tuple[Any, ...], dict[str, Any]]
    _runner: MultiDeviceRunner | None

    def __new__(cls, *args: Any, **kwargs: Any) -> InferenceModel:
        instance = super().__new__(cls)
        instance._init_spec = (args, kwargs)  # to build the same model in a worker process
        instance._runner = None
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
        self.use_fp16 = flag(use_fp16, "use_fp16")
        self.use_bf16 = flag(use_bf16, "use_bf16")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.max_batch_tokens = None if max_batch_tokens is None else positive_int(max_batch_tokens, "max_batch_tokens")
        self.trust_remote_code = flag(trust_remote_code, "trust_remote_code")
        self.cache_dir = cache_dir
        self.target_devices = resolve_devices(devices)
        self.quantize = check_quantize(quantize, self.target_devices)
        if self.quantize and self.use_bf16:
            raise ValueError(f"quantize={self.quantize!r} and use_bf16=True are two different fast paths; pass one of "
                             "them (int8 is faster, bf16 closer to fp32: see docs/benchmarks.md)")
        self.backend = check_backend(backend, self.target_devices, self.backends, type(self).__name__)
        if self.backend != "torch" and self.quantize:
            raise ValueError(f"quantize={self.quantize!r} is a torch path; with backend={self.backend!r} pass "
                             "use_bf16=True for the fast path instead")
        notice = cpu_precision_notice(self.target_devices, self.use_bf16)
        if notice:
            warnings.warn(notice, UserWarning, stacklevel=3)
        self.tokenizer: Any = None
        self.model: Any = None
        self._placed = False

    @classmethod
    def accepted_arguments(cls) -> set[str]:
        """Constructor argument names of this class and every base it forwards ``**kwargs`` to."""
        return constructor_arguments(cls, InferenceModel)

    # -- devices and precision -------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.target_devices[0]

    @property
    def compute_dtype(self) -> DtypeName:
        """What the matrix multiplies compute in: on a CPU 'float32', or 'bfloat16' with ``use_bf16=True`` where the
        CPU has native bf16; on an accelerator what use_fp16/use_bf16 ask for."""
        return compute_dtype_name(self.device, self.use_fp16, self.use_bf16)

    @property
    def cpu_bf16(self) -> bool:
        """The CPU bf16 path: block linear weights in bf16, the forward under bf16 autocast, the rest in fp32."""
        return is_cpu(self.device) and self.compute_dtype == "bfloat16"

    @property
    def torch_dtype(self):  # type: ignore[no-untyped-def]
        """The dtype weights load in: the compute dtype, except fp32 on the CPU bf16 path (norms, residual stream and
        heads stay fp32 there; only the blocks' linear weights become bf16, when the model is placed)."""
        return torch_dtype("float32" if self.cpu_bf16 else self.compute_dtype)

    def _place_model(self) -> None:
        """Move the model to its device, in its compute dtype, in eval mode, once."""
        if self._placed:
            return
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} has no model: its __init__ must load self.model")
        torch_bf16 = self.cpu_bf16 and self.backend == "torch"
        place_model(self.model, self.device, self.torch_dtype, self.quantize,
                    block_linear_dtype=torch_dtype("bfloat16") if torch_bf16 else None)
        self._placed = True

    def _convert_backbone(self, example: dict[str, Any]) -> None:
        """Swap the torch backbone for its OpenVINO conversion (cached on disk), once, on the first padded batch."""
        import torch

        from .engine.openvino import OpenVINOBackbone, convert

        owner_path, _, name = self.backbone_path.rpartition(".")
        owner = attrgetter(owner_path)(self) if owner_path else self
        module = getattr(owner, name)
        if isinstance(module, OpenVINOBackbone):
            return
        # one more padding column on every row: the traced graph must keep the attention mask, which transformers
        # drops when a batch has no padding at all
        pads = self.pad_values()
        example = {key: torch.cat([t, torch.full((t.shape[0], 1), pads.get(key, 0), dtype=t.dtype)], dim=1)
                   for key, t in example.items()}
        converted = convert(module, example, bf16=self.cpu_bf16, threads=torch.get_num_threads())
        delattr(owner, name)  # a torch module's child can only be replaced by another module once it is gone
        setattr(owner, name, converted)

    # -- tokenized features ----------------------------------------------------------------
    @property
    def padding_side(self) -> str:
        return getattr(self.tokenizer, "padding_side", "right") or "right"

    def pad_values(self) -> Mapping[str, int]:
        return tokenizer_pad_values(self.tokenizer)

    def _split_call_options(
        self, method: Callable[..., Any], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(core options, family options) of a call; anything else is rejected."""
        return split_call_options(f"{type(self).__name__}.{method.__name__}()", method, kwargs,
                                  self._core_call_options, self.call_options)

    def run_step(self, step_name: str, step_args: tuple, columns: Columns, pad_to_multiple_of: int | None) -> Any:
        """Pad one batch of token columns, move it to the device and run the named step on it.

        The same call runs in the parent and in the worker processes of a multi-device pool.
        """
        import torch

        self._place_model()
        batch = pad_features(columns, self.pad_values(), self.padding_side, pad_to_multiple_of,
                             holder_position_limit(self))
        tensors = {key: tensor.to(self.device) for key, tensor in batch.items()}
        if self.backend == "openvino":
            self._convert_backbone(tensors)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16):
            return getattr(self, step_name)(tensors, *step_args)

    def _run_batched(
        self,
        columns: Columns,
        batch_size: int,
        step_name: str,
        step_args: tuple,
        *,
        desc: str,
        unit: str = "text",
        pad_to_multiple_of: int | None = None,
        show_progress_bar: bool | None = None,
    ) -> tuple[list[Any], Batcher]:
        """Sort by token count, batch under the token budget, pad each batch dynamically and run the step
        (on several devices when there are several and more than one batch). Returns the per-batch results in
        run order and the batcher (its ``restore`` puts them back in input order). The progress bar counts
        ``unit``s; ``show_progress_bar=False`` also silences the notice printed while worker processes start."""
        batch_size = positive_int(batch_size, "batch_size")
        if pad_to_multiple_of is None:
            pad_to_multiple_of = self.default_pad_to_multiple_of
        elif pad_to_multiple_of is not False:
            pad_to_multiple_of = positive_int(pad_to_multiple_of, "pad_to_multiple_of")
        self._place_model()
        lengths: Sequence[int] = [len(ids) for ids in columns["input_ids"]]
        batcher = Batcher(lengths, batch_size, self.batch_token_budget)
        show = len(lengths) > batch_size if show_progress_bar is None else bool(show_progress_bar)

        def subset(indices: np.ndarray) -> Columns:
            return {key: [column[i] for i in indices] for key, column in columns.items()}

        if len(self.target_devices) > 1 and not self._first_device_only:
            batches = batcher.all_batches()
            if len(batches) > 1:
                runner = self._multi_device_runner()
                return runner.run(batcher, batches, subset, self.run_step, step_name, step_args, pad_to_multiple_of,
                                  desc, show, unit=unit, notice=show_progress_bar is not False,
                                  on_out_of_memory=self._release_cached_memory), batcher

        def run_one(indices: np.ndarray) -> Any:
            return self.run_step(step_name, step_args, subset(indices), pad_to_multiple_of)

        results = run_batches(batcher, run_one, desc=desc, unit=unit, show_progress=show,
                              on_out_of_memory=self._release_cached_memory)
        return results, batcher

    def _multi_device_runner(self) -> MultiDeviceRunner:
        from .engine.multi_device import MultiDeviceRunner
        from .engine.pool import ModelSpec

        if self._runner is None:
            args, kwargs = self._init_spec
            kwargs = {k: v for k, v in kwargs.items() if k != "devices"}
            spec = ModelSpec(type(self).__module__, type(self).__qualname__, args, kwargs)
            self._runner = MultiDeviceRunner(self, spec, list(self.target_devices))
        return self._runner

    @property
    def device_pool(self) -> DevicePool | None:
        """The worker processes serving ``target_devices[1:]``, once a call has started them; else None."""
        return self._runner._pool if self._runner is not None else None

    def close(self) -> None:
        """Stop the worker processes of a multi-device model now (they also stop with the model, or at exit)."""
        if self._runner is not None:
            self._runner.close()

    @property
    def batch_token_budget(self) -> int | None:
        """Padded tokens per batch: ``max_batch_tokens``, or a default for the device."""
        if self.max_batch_tokens is not None:
            return self.max_batch_tokens
        return self.default_cpu_batch_tokens if self.device == "cpu" else DEFAULT_ACCELERATOR_BATCH_TOKENS

    def _release_cached_memory(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model_name_or_path={self.model_name_or_path!r}, "
                f"device={self.device!r}, dtype={self.compute_dtype!r}"
                + (f", quantize={self.quantize!r}" if self.quantize else "")
                + (f", backend={self.backend!r})" if self.backend != "torch" else ")"))
