"""What embedders and rerankers share: argument checks, devices, precision, model placement,
tokenized-feature padding and the batched run."""

from __future__ import annotations

import inspect
import os
import weakref
from abc import ABC
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence, TypeVar

from .engine.batching import Batcher, run_batches
from .engine.devices import DevicesArg, resolve_devices
from .engine.padding import pad_features
from .engine.precision import DtypeName, check_quantize, compute_dtype_name, torch_dtype
from .inputs import positive_int, reject_unknown

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

# Padded tokens per batch when max_batch_tokens is not given. On a CPU, batches whose activations fit
# the last-level cache (2048 tokens of a 384-wide encoder: a 12 MB feed-forward block) ran ~4-7% faster
# than 4096 tokens in alternating runs; long texts get narrow batches, short texts wide ones.
DEFAULT_CPU_BATCH_TOKENS = 2048
DEFAULT_ACCELERATOR_BATCH_TOKENS = 65536
Columns = dict[str, list[list[int]]]


class InferenceModel(ABC):  # noqa: B024 - abstract through its subclasses
    """Base of :class:`~flagcore.AbsEmbedder` and :class:`~flagcore.AbsReranker`.

    A family's ``__init__`` calls ``super().__init__(...)`` with the shared arguments, then
    loads ``self.tokenizer`` and ``self.model`` (in ``self.torch_dtype``). Unknown keyword
    arguments are rejected here with the list of the accepted ones.
    """

    #: extra keyword arguments a family's encode/compute_score accepts (forwarded to its batch hook)
    call_options: ClassVar[frozenset[str]] = frozenset()
    _core_call_options: ClassVar[frozenset[str]] = frozenset({"pad_to_multiple_of", "show_progress_bar"})

    def __new__(cls, *args: Any, **kwargs: Any) -> InferenceModel:
        instance = super().__new__(cls)
        instance._init_spec = (args, kwargs)  # to build the same model in a worker process
        instance._pool = None
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
        **kwargs: Any,
    ) -> None:
        reject_unknown(f"{type(self).__name__}()", kwargs, self.accepted_arguments())
        self.model_name_or_path = os.fspath(model_name_or_path)
        self.use_fp16 = bool(use_fp16)
        self.use_bf16 = bool(use_bf16)
        self.batch_size = positive_int(batch_size, "batch_size")
        self.max_batch_tokens = None if max_batch_tokens is None else positive_int(max_batch_tokens, "max_batch_tokens")
        self.trust_remote_code = bool(trust_remote_code)
        self.cache_dir = cache_dir
        self.target_devices = resolve_devices(devices)
        self.quantize = check_quantize(quantize, self.target_devices)
        self.tokenizer: Any = None
        self.model: Any = None
        self._placed = False

    @classmethod
    def accepted_arguments(cls) -> set[str]:
        """Constructor argument names of this class and every base it forwards ``**kwargs`` to."""
        names: set[str] = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            params = inspect.signature(init).parameters.values()
            names |= {
                p.name for p in params
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            }
            if klass is InferenceModel or not any(p.kind == p.VAR_KEYWORD for p in params):
                break
        return names

    # -- devices and precision -------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.target_devices[0]

    @property
    def compute_dtype(self) -> DtypeName:
        """'float32' on a CPU whatever use_fp16/use_bf16 say; otherwise what they ask for."""
        return compute_dtype_name(self.device, self.use_fp16, self.use_bf16)

    @property
    def torch_dtype(self):  # type: ignore[no-untyped-def]
        return torch_dtype(self.compute_dtype)

    def _place_model(self) -> None:
        """Move the model to its device, in its compute dtype, in eval mode, once."""
        if self._placed:
            return
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} has no model: its __init__ must load self.model")
        if hasattr(self.model, "to"):
            self.model.to(device=self.device, dtype=self.torch_dtype)
        if hasattr(self.model, "eval"):
            self.model.eval()
        if self.quantize == "int8":
            from .engine.int8 import quantize_transformer_blocks

            quantize_transformer_blocks(self.model)
        self._placed = True

    # -- tokenized features ----------------------------------------------------------------
    @property
    def padding_side(self) -> str:
        return getattr(self.tokenizer, "padding_side", "right") or "right"

    def pad_values(self) -> Mapping[str, int]:
        pad_id = getattr(self.tokenizer, "pad_token_id", None)
        return {
            "input_ids": pad_id if pad_id is not None else 0,
            "token_type_ids": getattr(self.tokenizer, "pad_token_type_id", 0) or 0,
            "attention_mask": 0,
        }

    def _split_call_options(
        self, method: Callable[..., Any], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(core options, family options) of a call; anything else is rejected."""
        known = self._core_call_options | self.call_options
        if set(kwargs) - known:
            named = {
                p.name for p in inspect.signature(method).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in ("sentences", "sentence_pairs")
            }
            reject_unknown(f"{type(self).__name__}.{method.__name__}()", set(kwargs) - known, known | named)
        core = {k: v for k, v in kwargs.items() if k in self._core_call_options}
        family = {k: v for k, v in kwargs.items() if k in self.call_options}
        return core, family

    def run_step(self, step_name: str, step_args: tuple, columns: Columns, pad_to_multiple_of: int | None) -> Any:
        """Pad one batch of token columns, move it to the device and run the named step on it.

        The same call runs in the parent and in the worker processes of a multi-device pool.
        """
        import torch

        self._place_model()
        batch = pad_features(columns, self.pad_values(), self.padding_side, pad_to_multiple_of)
        with torch.inference_mode():
            return getattr(self, step_name)({key: tensor.to(self.device) for key, tensor in batch.items()},
                                            *step_args)

    def _run_batched(
        self,
        columns: Columns,
        batch_size: int,
        step_name: str,
        step_args: tuple,
        *,
        desc: str,
        pad_to_multiple_of: int | None = None,
        show_progress_bar: bool | None = None,
    ) -> tuple[list[Any], Batcher]:
        """Sort by token count, batch under the token budget, pad each batch dynamically and run the step
        (on several devices when there are several and more than one batch). Returns the per-batch results in
        run order and the batcher (its ``restore`` puts them back in input order)."""
        batch_size = positive_int(batch_size, "batch_size")
        self._place_model()
        lengths: Sequence[int] = [len(ids) for ids in columns["input_ids"]]
        batcher = Batcher(lengths, batch_size, self.batch_token_budget)
        show = len(lengths) > batch_size if show_progress_bar is None else bool(show_progress_bar)

        def subset(indices: np.ndarray) -> Columns:
            return {key: [column[i] for i in indices] for key, column in columns.items()}

        if len(self.target_devices) > 1:
            batches = batcher.all_batches()
            if len(batches) > 1:
                return self._run_on_devices(batcher, batches, subset, step_name, step_args, pad_to_multiple_of,
                                            desc, show), batcher

        def run_one(indices: np.ndarray) -> Any:
            return self.run_step(step_name, step_args, subset(indices), pad_to_multiple_of)

        results = run_batches(batcher, run_one, desc=desc, show_progress=show,
                              on_out_of_memory=self._release_cached_memory)
        return results, batcher

    def _run_on_devices(self, batcher: Batcher, batches: list[np.ndarray], subset: Callable[[Any], Columns],
                        step_name: str, step_args: tuple, pad_to_multiple_of: int | None, desc: str,
                        show: bool) -> list[Any]:
        import torch
        from tqdm.auto import tqdm

        from .engine.pool import WorkerError, deal_batches

        tokens = [len(b) * int(batcher.lengths[b[0]]) for b in batches]
        positions = deal_batches(tokens, len(self.target_devices))
        shares = [[subset(batches[p]) for p in share] for share in positions]
        pool = self._device_pool()
        bar = tqdm(total=len(batcher), desc=desc, unit="text", disable=not show, leave=False)

        def local(share: list[Columns], cancel: Any) -> list[Any]:
            outputs = []
            for columns in share:
                if cancel.is_set():
                    raise RuntimeError("cancelled: another device failed")
                outputs.append(self.run_step(step_name, step_args, columns, pad_to_multiple_of))
                bar.update(len(columns["input_ids"]))
            return outputs

        threads = torch.get_num_threads()
        if self.device == "cpu" and pool.cpu_threads:
            torch.set_num_threads(pool.cpu_threads)  # the CPU devices share the thread budget
        try:
            per_share = pool.run(step_name, step_args, shares, pad_to_multiple_of, local)
            bar.update(sum(len(columns["input_ids"]) for share in shares[1:] for columns in share))
        except WorkerError:
            if not pool.alive:
                self._close_pool()
            raise
        finally:
            torch.set_num_threads(threads)
            bar.close()
        results: list[Any] = [None] * len(batches)
        for share, outputs in zip(positions, per_share, strict=True):
            for position, output in zip(share, outputs, strict=True):
                results[position] = output
        return results

    def _device_pool(self) -> Any:
        """The worker pool for ``target_devices[1:]``, started on first use and rebuilt if a worker died."""
        from .engine.pool import DevicePool, ModelSpec

        if self._pool is not None and not self._pool.alive:
            self._close_pool()
        if self._pool is None:
            args, kwargs = self._init_spec
            kwargs = {k: v for k, v in kwargs.items() if k != "devices"}
            spec = ModelSpec(type(self).__module__, type(self).__qualname__, args, kwargs)
            self._pool = DevicePool(spec, list(self.target_devices))
            self._pool_finalizer = weakref.finalize(self, self._pool.close)
        return self._pool

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool_finalizer.detach()
            self._pool.close()
            self._pool = None

    @property
    def batch_token_budget(self) -> int | None:
        """Padded tokens per batch: ``max_batch_tokens``, or a default for the device."""
        if self.max_batch_tokens is not None:
            return self.max_batch_tokens
        return DEFAULT_CPU_BATCH_TOKENS if self.device == "cpu" else DEFAULT_ACCELERATOR_BATCH_TOKENS

    def _release_cached_memory(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model_name_or_path={self.model_name_or_path!r}, "
                f"device={self.device!r}, dtype={self.compute_dtype!r}"
                + (f", quantize={self.quantize!r})" if self.quantize else ")"))
