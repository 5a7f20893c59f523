"""OpenVINO as a CPU backend (``backend="openvino"``, extra ``openvino``).

A family's torch backbone (the transformer; task heads stay in torch) is converted once with
``openvino.convert_model`` on the first batch, with dynamic batch and sequence dimensions, saved as OpenVINO IR under
the flagcore cache, and compiled for the CPU in fp32 (bf16 with ``use_bf16=True`` where the CPU has native bf16).
The cache key is a digest of the backbone's weights, its class, its inputs, and the flagcore and OpenVINO versions:
a changed checkpoint gets a new conversion, an unchanged one is never converted twice. flagcore's own batching still
decides the batches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..extras import install_hint
from .devices import accelerators

BACKENDS = ("torch", "openvino")
#: where converted models are kept: $FLAGCORE_CACHE_DIR, else $XDG_CACHE_HOME/flagcore, else ~/.cache/flagcore
CACHE_ENV = "FLAGCORE_CACHE_DIR"


def check_backend(value: Any, devices: list[str], supported: tuple[str, ...], owner: str) -> str:
    """``backend`` validated for a class and its devices; OpenVINO must be importable."""
    if value not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}")
    if value not in supported:
        raise ValueError(f"backend={value!r} is not available for {owner}, which supports "
                         f"{', '.join(map(repr, supported))}; OpenVINO serves the encoder-only, M3 and "
                         "decoder-only (LLM, ICL) embedders and the cross-encoder rerankers")
    if value == "openvino":
        others = accelerators(devices)
        if others:
            raise ValueError(f"backend='openvino' runs on the CPU, but devices include {', '.join(others)}; "
                             "pass devices='cpu', or use the default torch backend on an accelerator")
        import importlib.util

        if importlib.util.find_spec("openvino") is None:
            raise ImportError(f"backend='openvino' needs OpenVINO, which is not installed: {install_hint('openvino')}")
    return str(value)


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flagcore"


def weights_digest(module: Any) -> str:
    """SHA-256 over the module's parameters and buffers (names, dtypes, shapes, bytes)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def cache_key(module: Any, input_names: list[str], trace: TraceOptions) -> str:
    import openvino

    from .._version import __version__

    parts = [f"flagcore={__version__}", f"openvino={openvino.__version__}", type(module).__qualname__,
             ",".join(input_names), repr(sorted(trace.forward_options.items())), str(trace.attention),
             weights_digest(module)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TraceOptions:
    """How the backbone is called when traced: the family's extra forward arguments (``use_cache=False`` for a
    decoder) and the attention implementation to trace (None: the module's own). Decoders trace ``"eager"``: under
    SDPA, the rows of left padding are masked with -inf everywhere, which OpenVINO turns into NaN that then reach the
    real tokens through the next layer's values (0 x NaN); eager attention masks with the dtype's minimum instead."""

    forward_options: dict[str, Any] = field(default_factory=dict)
    attention: str | None = None


@dataclass
class BackboneOutput:
    """What a converted backbone returns: the one field its family reads, as a torch tensor."""

    last_hidden_state: Any = None
    logits: Any = None


class OpenVINOBackbone:
    """Stands in for a torch backbone: called with the batch's tensors (``return_dict`` ignored), returns an object
    with the field the family reads (``last_hidden_state`` or ``logits``)."""

    def __init__(self, compiled: Any, input_names: list[str], ir_path: Path, precision: str, config: Any) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.input_names = input_names
        self.output_name = compiled.output(0).get_any_name()  # the field it stands for, named at conversion
        self.ir_path = ir_path
        self.precision = precision  # the inference precision asked of OpenVINO: "f32" or "bf16"
        self.config = config  # the torch module's config (hidden size, labels), for code that reads it

    def __call__(self, return_dict: bool = True, **inputs: Any) -> BackboneOutput:
        import torch

        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f"the OpenVINO model was converted with inputs {self.input_names}; this batch lacks "
                             f"{missing}")
        feeds = {name: inputs[name].detach().to("cpu").numpy() for name in self.input_names}
        result = self.request.infer(feeds, share_inputs=True)
        output = torch.from_numpy(result[self.compiled.output(0)].copy())
        return BackboneOutput(**{self.output_name: output})


def _output_name(module: Any, example: dict[str, Any], trace: TraceOptions) -> str:
    import torch

    with torch.inference_mode():
        out = module(**example, return_dict=True, **trace.forward_options)
    for name in ("last_hidden_state", "logits"):
        if getattr(out, name, None) is not None:
            return name
    raise ValueError(f"backend='openvino' cannot serve {type(module).__name__}: its output has neither "
                     "last_hidden_state nor logits")


def convert(module: Any, example: dict[str, Any], *, bf16: bool, threads: int,
            trace: TraceOptions | None = None) -> OpenVINOBackbone:
    """``module`` converted (or read from the cache) and compiled for the CPU; ``example``: one padded batch."""
    import openvino
    import torch

    trace = trace or TraceOptions()
    input_names = list(example)
    folder = cache_root() / "openvino" / cache_key(module, input_names, trace)
    ir_path = folder / "model.xml"
    if not ir_path.exists():
        if trace.attention is not None:
            module.set_attn_implementation(trace.attention)
        _convert_to(folder, module, example, input_names, trace)
    precision = "bf16" if bf16 else "f32"  # always explicit: OpenVINO's own default is bf16 on a bf16 CPU
    compiled = openvino.Core().compile_model(str(ir_path), "CPU", {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": max(1, threads or torch.get_num_threads()),
        "PERFORMANCE_HINT": "LATENCY",
    })
    return OpenVINOBackbone(compiled, input_names, ir_path, precision, getattr(module, "config", None))


def _exported(module: Any, input_names: list[str], output_name: str, forward_options: dict[str, Any]) -> Any:
    """A torch module exposing one output of ``module`` as a plain tensor, with positional tensor inputs."""
    import torch

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *tensors: Any) -> Any:
            out = self.inner(**dict(zip(input_names, tensors, strict=True)), return_dict=True, **forward_options)
            return getattr(out, output_name)

    return Exported().eval()


def _convert_to(folder: Path, module: Any, example: dict[str, Any], input_names: list[str],
                trace: TraceOptions) -> None:
    """Trace ``module`` on ``example`` and save it as IR in ``folder``, its output named after the field it is."""
    import openvino
    import torch

    output_name = _output_name(module, example, trace)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the trace fixes Python-level branches (mask present, no cache); flagcore always passes the same inputs
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # OpenVINO traces with torch.jit, which torch deprecates; transformers' notices under tracing
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            model = openvino.convert_model(_exported(module, input_names, output_name, trace.forward_options),
                                           example_input=tuple(example[name] for name in input_names))
        for port, name in zip(model.inputs, input_names, strict=True):
            port.get_tensor().set_names({name})
        model.outputs[0].get_tensor().set_names({output_name})
        openvino.save_model(model, str(scratch / "model.xml"), compress_to_fp16=False)
        try:
            scratch.rename(folder)
        except OSError:  # another process converted the same model meanwhile: keep its copy
            if not (folder / "model.xml").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
