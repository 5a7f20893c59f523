"""Quantized embeddings (``encode*(..., precision=...)``), in sentence-transformers' ``quantize_embeddings``
convention, so that stored vectors are interchangeable:

- ``int8`` / ``uint8``: each dimension's calibration range cut into 255 equal steps; a value becomes the number of
  whole steps it lies above the range's minimum, clipped to 0..255 (``uint8``; ``int8``: the same minus 128). A
  dimension whose range is empty gets steps of 1. The range is ``ranges`` when given (a ``(2, d)`` array of
  per-dimension minimum and maximum), else the minimum and maximum of ``calibration`` embeddings when given, else of
  the embeddings themselves (then at least two, as one embedding gives no range).
- ``binary`` / ``ubinary``: one bit per dimension (1 where the value is positive), packed eight to a byte, big-end
  first (``ubinary``: uint8; ``binary``: the same minus 128, as int8).
- ``float32``: unchanged.
"""

from __future__ import annotations

from typing import Any

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def check_precision(precision: Any) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    return str(precision)


def quantize_embeddings(embeddings: Any, precision: str, ranges: Any = None, calibration: Any = None) -> Any:
    """``(n, d)`` float embeddings (numpy or torch) as a numpy array of ``precision`` (see the module's text)."""
    import numpy as np

    precision = check_precision(precision)
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().float().cpu().numpy()
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if precision == "float32":
        return embeddings
    if not len(embeddings):  # nothing to calibrate on, nothing to quantize
        width = embeddings.shape[1] if precision.endswith("int8") else (embeddings.shape[1] + 7) // 8
        return np.zeros((0, width), dtype=np.uint8 if precision.startswith("u") else np.int8)
    if precision in ("binary", "ubinary"):
        return _packed_bits(embeddings, signed=precision == "binary")
    starts, steps = _calibration(embeddings, ranges, calibration)
    levels = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
    if precision == "uint8":
        return levels.astype(np.uint8)
    return (levels - 128).astype(np.int8)


def _packed_bits(embeddings: Any, signed: bool) -> Any:
    import numpy as np

    rows, width = embeddings.shape
    packed = np.packbits(embeddings > 0, axis=-1).reshape(rows, (width + 7) // 8)
    return (packed.astype(np.int16) - 128).astype(np.int8) if signed else packed


def _calibration(embeddings: Any, ranges: Any, calibration: Any) -> tuple[Any, Any]:
    import numpy as np

    if ranges is None:
        source = embeddings if calibration is None else np.asarray(calibration, dtype=np.float32)
        if len(source) < 2:
            raise ValueError("int8/uint8 quantization needs a calibration range, which one embedding does not give: "
                             "pass ranges (a (2, d) array of per-dimension minimum and maximum) or calibration "
                             "embeddings from a representative set of texts")
        ranges = np.vstack((source.min(axis=0), source.max(axis=0)))
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, embeddings.shape[1]):
        raise ValueError(f"ranges must have shape (2, {embeddings.shape[1]}) (per-dimension minimum and maximum), "
                         f"not {ranges.shape}")
    starts = ranges[0]
    steps = (ranges[1] - ranges[0]) / 255
    return starts, np.where(steps == 0, 1, steps)
