"""Turning FlagEmbedding's ``devices`` argument into a validated list of device strings."""

from __future__ import annotations

from typing import Sequence, Union

DevicesArg = Union[None, str, int, Sequence[Union[str, int]]]

_FORMS = "None, 'cpu', 'cuda', 'cuda:N', 'mps', an integer GPU index, or a list of these"


def is_cpu(device: str) -> bool:
    return device.split(":")[0] == "cpu"


def accelerators(devices: Sequence[str]) -> list[str]:
    """The devices of ``devices`` that are not the CPU."""
    return [d for d in devices if not is_cpu(d)]


def resolve_devices(devices: DevicesArg) -> list[str]:
    """None → every CUDA GPU, else MPS, else the CPU; a string, an int or a list of either otherwise.

    Every device is checked now: an unknown or unavailable one raises ``RuntimeError`` naming it.
    """
    import torch

    if devices is None:
        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if _mps_available(torch):
            return ["mps"]
        return ["cpu"]
    if isinstance(devices, (str, int)) and not isinstance(devices, bool):
        items: list[str | int] = [devices]
    elif isinstance(devices, (list, tuple)):
        if not devices:
            raise ValueError(f"devices is an empty list; pass {_FORMS}")
        items = list(devices)
    else:
        raise ValueError(f"devices must be {_FORMS}; got {type(devices).__name__} {devices!r}")
    return [_check_device(torch, item) for item in items]


def _check_device(torch, item: str | int) -> str:  # type: ignore[no-untyped-def]
    if isinstance(item, bool) or not isinstance(item, (str, int)):
        raise ValueError(f"devices must be {_FORMS}; got the item {item!r} ({type(item).__name__})")
    text = str(item).strip()
    if text.isdigit():
        text = f"cuda:{text}"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError) as exc:
        raise RuntimeError(f"Device error: {item!r} is not a device torch knows ({exc}). Use {_FORMS}.") from None
    if device.type == "cpu":
        return "cpu"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise RuntimeError(
                f"Device error: {item!r} was requested but CUDA is not available (torch {torch.__version__}, {build}). "
                "Use devices='cpu' or leave devices=None to pick what is available."
            )
        count = torch.cuda.device_count()
        index = device.index if device.index is not None else 0
        if index >= count:
            raise RuntimeError(
                f"Device error: {item!r} was requested but only {count} CUDA device(s) are visible "
                f"(cuda:0..cuda:{count - 1})."
            )
        return f"cuda:{index}"
    if device.type == "mps":
        if not _mps_available(torch):
            raise RuntimeError(f"Device error: {item!r} was requested but MPS is not available on this machine.")
        return "mps"
    backend = getattr(torch, device.type, None)
    available = getattr(backend, "is_available", None)
    if not callable(available) or not available():
        raise RuntimeError(f"Device error: {item!r} was requested but torch has no available {device.type!r} backend.")
    return str(device)


def _mps_available(torch) -> bool:  # type: ignore[no-untyped-def]
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_available())
