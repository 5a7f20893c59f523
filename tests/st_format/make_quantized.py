"""Writes tests/st_format/quantized.npz: sentence-transformers' ``quantize_embeddings`` outputs (int8, uint8, binary,
ubinary; calibrated from the embeddings themselves, from calibration embeddings, and from given ranges) for fixed
random embeddings, so that flagcore's ``precision=`` is checked against the convention it follows. Run with
sentence-transformers 6.3.0: ``nox -s st_references``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sentence_transformers.util.quantization import quantize_embeddings

OUT = Path(__file__).with_name("quantized.npz")


def main() -> None:
    rng = np.random.default_rng(23)
    embeddings = rng.standard_normal((7, 21)).astype(np.float32)  # 21: the packed bits end in a partial byte
    calibration = rng.standard_normal((40, 21)).astype(np.float32)
    ranges = np.vstack((np.full(21, -2.0), np.full(21, 2.5))).astype(np.float32)
    arrays = {"embeddings": embeddings, "calibration": calibration, "ranges": ranges}
    for precision in ("int8", "uint8", "binary", "ubinary"):
        arrays[precision] = quantize_embeddings(embeddings, precision)
    for precision in ("int8", "uint8"):
        arrays[f"{precision}-calibration"] = quantize_embeddings(embeddings, precision,
                                                                calibration_embeddings=calibration)
        arrays[f"{precision}-ranges"] = quantize_embeddings(embeddings, precision, ranges=ranges)
    np.savez(OUT, **arrays)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
