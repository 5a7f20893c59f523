"""Which input channels of each int8 layer stay in fp32: the channels whose activations reach the largest values.

A few channels of a transformer's hidden states carry activations 10-30x larger than the rest (all-MiniLM-L6-v2:
up to 30 against a median of ~2 at the feed-forward input). They widen every token's int8 range, so the ordinary
channels lose precision, and the weights they multiply set the error that their size amplifies. These channels
are a property of the model, not of the text: ranked on seeded random token ids they select nearly the same
channels, with the same end quality, as ranked on 100 real passages (``docs/quantization.md``). So the ranking
runs once, at quantization, on fixed inputs: the same model always gets the same plan, with no calibration texts.
"""

from __future__ import annotations

from typing import Any

import torch

#: one input channel in this many (at least one) is kept in fp32 (~2%: 8 of 384, 32 of 1536). A ratio rule instead
#: (channels over 4x the median channel's, same cap) kept fewer and fell to min cosine 0.9989 on all-MiniLM-L6-v2.
CHANNELS_PER_OUTLIER = 48
#: the calibration batch: rows × tokens of random ids from a seeded generator
CALIBRATION_ROWS, CALIBRATION_TOKENS, CALIBRATION_SEED = 16, 64, 0


def outlier_count(in_features: int) -> int:
    """How many of a layer's input channels stay in fp32."""
    return max(1, in_features // CHANNELS_PER_OUTLIER)


def top_channels(absmax: torch.Tensor) -> torch.Tensor:
    """The indices (ascending) of the ``outlier_count`` channels with the largest absolute activation (ties: the
    lowest index)."""
    count = outlier_count(absmax.numel())
    return torch.sort(torch.argsort(absmax, descending=True, stable=True)[:count]).values


def backbone(model: torch.nn.Module) -> Any:
    """The outermost transformers model inside ``model`` (itself, a classifier, or the backbone of a wrapper)."""
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel) and getattr(module.config, "vocab_size", None):
            return module
    raise ValueError(f"quantize found no transformers model inside {type(model).__name__} to calibrate its int8 "
                     "layers on; pass quantize='int8-per-token' (no calibration) or load it without quantize.")


def calibration_ids(vocab_size: int) -> torch.Tensor:
    """Seeded random token ids from the upper 90% of the vocabulary (special and unused ids sit at its start)."""
    generator = torch.Generator().manual_seed(CALIBRATION_SEED)
    return torch.randint(vocab_size // 10, vocab_size, (CALIBRATION_ROWS, CALIBRATION_TOKENS), generator=generator)


def input_absmax(model: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """Each named Linear's largest absolute input per channel over one fp32 forward of the calibration batch."""
    found: dict[str, torch.Tensor] = {}

    def recorder(name: str) -> Any:
        def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            peak = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).float().abs().amax(dim=0)
            found[name] = torch.maximum(found[name], peak) if name in found else peak
        return record

    net = backbone(model)
    hooks = [model.get_submodule(name).register_forward_hook(recorder(name)) for name in names]
    try:
        ids = calibration_ids(int(net.config.vocab_size))
        with torch.inference_mode():
            net(input_ids=ids, attention_mask=torch.ones_like(ids))
    finally:
        for hook in hooks:
            hook.remove()
    return found


def outlier_channels(model: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """Each named Linear's fp32 input channels, ranked on the calibration batch."""
    return {name: top_channels(peak) for name, peak in input_absmax(model, names).items()}
