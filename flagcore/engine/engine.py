"""The engine of one model: where and how its batches run. It owns the devices, the precision, the quantization and
the backend (torch or OpenVINO), places the model once, and runs a call's prepared work: rows sorted by length,
batches under the token budget, each padded and run through the model's ``forward_batch`` on one device, or dealt
out to worker processes on several."""

from __future__ import annotations

import warnings
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from .batching import Batcher, run_batches
from .devices import DevicesArg, is_cpu, resolve_devices
from .openvino import TraceOptions, check_backend
from .padding import Columns, pad_features
from .placement import place_model
from .precision import DtypeName, check_quantize, compute_dtype_name, cpu_precision_notice, torch_dtype

if TYPE_CHECKING:
    import numpy as np

    from ..outputs import EmbedStep, Ran, ScoreStep, Work
    from .multi_device import MultiDeviceRunner
    from .workers import DeviceWorkers, ModelSpec

# Padded tokens per batch when max_batch_tokens is not given. On a CPU, batches whose activations fit
# the last-level cache (2048 tokens of a 384-wide encoder: a 12 MB feed-forward block) ran ~4-7% faster
# than 4096 tokens in alternating runs; long texts get narrow batches, short texts wide ones.
DEFAULT_CPU_BATCH_TOKENS = 2048
DEFAULT_ACCELERATOR_BATCH_TOKENS = 65536
#: columns of the first batch the OpenVINO conversion traces (its shapes stay dynamic; any width would do)
TRACE_COLUMNS = 8


class Engine:
    """Devices, precision, quantization and backend of one model, checked together, and the batched run.

    ``cpu_batch_tokens``: the model class's padded tokens per batch on a CPU when ``max_batch_tokens`` is not given.
    """

    def __init__(self, owner: str, *, devices: DevicesArg, use_fp16: bool, use_bf16: bool,
                 quantize: str | None, backend: str, backends: tuple[str, ...], max_batch_tokens: int | None,
                 cpu_batch_tokens: int = DEFAULT_CPU_BATCH_TOKENS) -> None:
        self.use_fp16, self.use_bf16 = use_fp16, use_bf16
        self.max_batch_tokens = max_batch_tokens
        self.cpu_batch_tokens = cpu_batch_tokens
        self.target_devices = resolve_devices(devices)
        self.quantize = check_quantize(quantize, self.target_devices)
        if self.quantize and use_bf16:
            raise ValueError(f"quantize={self.quantize!r} and use_bf16=True are two different fast paths; pass one of "
                             "them (int8 is faster, bf16 closer to fp32: see docs/benchmarks.md)")
        self.backend = check_backend(backend, self.target_devices, backends, owner)
        if self.backend != "torch" and self.quantize:
            raise ValueError(f"quantize={self.quantize!r} is a torch path; with backend={self.backend!r} pass "
                             "use_bf16=True for the fast path instead")
        notice = cpu_precision_notice(self.target_devices, use_bf16)
        if notice:
            warnings.warn(notice, UserWarning, stacklevel=4)
        #: calls run on the first device only (FlagEmbedding's ``*_single_device`` methods)
        self.first_device_only = False
        self._placed = False
        self._runner: MultiDeviceRunner | None = None

    # -- where and in what precision --------------------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.target_devices[0]

    @property
    def compute_dtype(self) -> DtypeName:
        return compute_dtype_name(self.device, self.use_fp16, self.use_bf16)

    @property
    def cpu_bf16(self) -> bool:
        return is_cpu(self.device) and self.compute_dtype == "bfloat16"

    @property
    def torch_dtype(self):  # type: ignore[no-untyped-def]
        return torch_dtype("float32" if self.cpu_bf16 else self.compute_dtype)

    @property
    def batch_token_budget(self) -> int:
        """Padded tokens per batch: ``max_batch_tokens``, or the default for the device."""
        if self.max_batch_tokens is not None:
            return self.max_batch_tokens
        return self.cpu_batch_tokens if self.device == "cpu" else DEFAULT_ACCELERATOR_BATCH_TOKENS

    def place(self, model: Any) -> None:
        """Move ``model.model`` to the device, in its dtype, in eval mode (and the CPU fast path asked for), and the
        model's ``fp32_modules()`` to the device in fp32; once."""
        if self._placed:
            return
        if model.model is None:
            raise RuntimeError(f"{type(model).__name__} has no model: its __init__ must load self.model")
        torch_bf16 = self.cpu_bf16 and self.backend == "torch"
        place_model(model.model, self.device, self.torch_dtype, self.quantize,
                    block_linear_dtype=torch_dtype("bfloat16") if torch_bf16 else None)
        for module in model.fp32_modules():
            module.to(self.device)
        self._placed = True

    # -- one batch ---------------------------------------------------------------------------------------------
    def run_step(self, model: Any, step: EmbedStep | ScoreStep, columns: Columns,
                 pad_to_multiple_of: int | None) -> Any:
        """Pad one batch of token columns, move it to the device and run ``model.forward_batch`` on it. The same call
        runs in this process and in the worker processes of several devices."""
        import torch

        from ..limits import holder_position_limit

        self.place(model)
        batch = pad_features(columns, model.pad_values(), model.padding_side, pad_to_multiple_of,
                             holder_position_limit(model))
        tensors = {key: tensor.to(self.device) for key, tensor in batch.items()}
        if self.backend == "openvino":
            self._convert_backbone(model, tensors)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16):
            return model.forward_batch(tensors, step)

    def _convert_backbone(self, model: Any, example: dict[str, Any]) -> None:
        """Swap the module at ``model.backbone_path`` for its OpenVINO conversion (cached on disk), once, on the
        first padded batch."""
        import torch

        from .openvino import OpenVINOBackbone, convert

        owner_path, _, name = model.backbone_path.rpartition(".")
        owner = attrgetter(owner_path)(model) if owner_path else model
        module = getattr(owner, name)
        if isinstance(module, OpenVINOBackbone):
            return
        # The trace needs a batch of the real inputs' kind, not the batch itself: a few rows and columns of it, plus
        # one padding column, because transformers drops the attention mask (and the traced graph with it) when a
        # batch has no padding. Cut short first, so that the extra column never passes the position table when the
        # first batch already fills it (a 512-token text of a 512-position model).
        pads = model.pad_values()
        example = {key: torch.cat([t[:2, :TRACE_COLUMNS], torch.full((min(t.shape[0], 2), 1), pads.get(key, 0),
                                                                     dtype=t.dtype)], dim=1)
                   for key, t in example.items()}
        trace = TraceOptions(dict(getattr(model, "forward_options", {})), model.openvino_attention)
        converted = convert(module, example, bf16=self.cpu_bf16, threads=torch.get_num_threads(), trace=trace)
        delattr(owner, name)  # a torch module's child can only be replaced by another module once it is gone
        setattr(owner, name, converted)

    # -- a whole call ------------------------------------------------------------------------------------------
    def run(self, model: Any, work: Work, *, desc: str, unit: str) -> Ran:
        """Every batch of ``work`` run: sorted by token count, batched under the token budget, padded dynamically,
        on several devices when there are several and more than one batch. The progress bar counts ``unit``s;
        ``show_progress_bar=False`` also silences the notice printed while worker processes start."""
        import numpy as np

        from ..outputs import Ran

        if not work.rows:
            return Ran([], np.zeros(0, dtype=np.int64))
        self.place(model)
        columns = work.columns
        batcher = Batcher([len(ids) for ids in columns["input_ids"]], work.batch_size, self.batch_token_budget)
        show = work.rows > work.batch_size if work.show_progress_bar is None else bool(work.show_progress_bar)

        def subset(indices: np.ndarray) -> Columns:
            return {key: [column[i] for i in indices] for key, column in columns.items()}

        def run_one(columns: Columns) -> Any:
            return self.run_step(model, work.step, columns, work.pad_to_multiple_of)

        if len(self.target_devices) > 1 and not self.first_device_only:
            batches = batcher.all_batches()
            if len(batches) > 1:
                outputs = self.runner(model).run(
                    batcher, batches, subset, run_one, work.step, work.pad_to_multiple_of, desc, show, unit=unit,
                    notice=work.show_progress_bar is not False, on_out_of_memory=self.release_cached_memory)
                return Ran(outputs, batcher.restore)
        outputs = run_batches(batcher, lambda indices: run_one(subset(indices)), desc=desc, unit=unit,
                              show_progress=show, on_out_of_memory=self.release_cached_memory)
        return Ran(outputs, batcher.restore)

    # -- worker processes of several devices --------------------------------------------------------------------
    def runner(self, model: Any) -> MultiDeviceRunner:
        """The runner of ``model``'s worker processes (built from its constructor arguments; started on first use)."""
        from .multi_device import MultiDeviceRunner
        from .workers import ModelSpec

        if self._runner is None:
            args, kwargs = model.init_spec
            kwargs = {k: v for k, v in kwargs.items() if k != "devices"}
            spec: ModelSpec = ModelSpec(type(model).__module__, type(model).__qualname__, args, kwargs)
            self._runner = MultiDeviceRunner(model, spec, list(self.target_devices))
        return self._runner

    @property
    def device_pool(self) -> DeviceWorkers | None:
        return self._runner.current_workers if self._runner is not None else None

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()

    def release_cached_memory(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
