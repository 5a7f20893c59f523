"""The peft_path check shared by the layer-wise families' tests: a random LoRA adapter saved from a loaded reranker's
model, then loaded with ``peft_path=``, scores as peft's own merge does, and differently from the plain model."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def check_peft_path_merges_a_lora_adapter(load: Callable[..., object], pairs: list, folder) -> None:
    """``load(**extra)`` builds the reranker (``extra`` is ``peft_path=`` or nothing)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    adapted = get_peft_model(load().model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    adapted.save_pretrained(folder)
    expected = load()
    expected.model = adapted.merge_and_unload()
    got = load(peft_path=str(folder)).compute_score(pairs)
    np.testing.assert_allclose(got, expected.compute_score(pairs), atol=1e-5)
    assert np.abs(np.array(got) - np.array(load().compute_score(pairs))).max() > 1e-4
