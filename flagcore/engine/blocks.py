"""Which linear layers of a model sit inside its repeated transformer blocks: the layers the CPU fast paths
(bf16 weights, int8 quantization) change; embeddings, poolers and task heads are small and stay in fp32."""

from __future__ import annotations

import re
from typing import Any

# Linear layers inside repeated transformer blocks ("encoder.layer.3.", "model.layers.0.", "h.11." ...).
BLOCK_LINEAR = re.compile(r"(^|\.)(layer|layers|h|block|blocks)\.\d+\.")


def block_linear_names(model: Any) -> list[str]:
    """Names of the ``torch.nn.Linear`` modules inside ``model``'s repeated transformer blocks."""
    import torch

    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and BLOCK_LINEAR.search(name + ".")]
