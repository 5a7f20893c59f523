"""A Hugging Face hub cache, offline, in which FlagEmbedding's example model names are the project's tiny models.

    python tests/migration/hub_cache.py OUT_DIR

writes OUT_DIR/hub (point ``HF_HUB_CACHE`` there, with ``HF_HUB_OFFLINE=1``) and OUT_DIR/models (the tiny checkpoints
the cache's snapshots link to). Every name an example loads, e.g. ``BAAI/bge-base-en-v1.5``, gets the layout the hub
client writes: ``hub/models--BAAI--bge-base-en-v1.5/refs/main`` holding a commit hash and
``hub/models--BAAI--bge-base-en-v1.5/snapshots/<hash>/`` with the checkpoint's files (symbolic links, as the hub
client makes them). Both libraries load such names through their own hub client (transformers 4.44 / 4.57 for
FlagEmbedding, transformers 5 for flagcore) without any network.

The checkpoints are built by the parity generators, which give byte-identical files on every run with the same torch:
tiny_models.py (BERT, XLM-R, XLM-R reranker, M3), tiny_decoders.py (Gemma, Gemma2, Mistral) and, for the layer-wise
rerankers, deep variants of the committed tests/parity/layerwise_models checkpoints built here (``deep_layerwise``):
the examples ask for ``cutoff_layers=[28]`` and ``compress_layers=[24, 40]``, layer numbers of the real models
(MiniCPM-2B: 40 layers, score heads from layer 8; gemma-2-9b: 42 layers, heads from layer 8), so the deep variants
have the real depth and head layout at the tiny width (hidden 64). `digests` gives a sha256 per checkpoint; the
references record them, and the migration test checks that it runs on the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "parity"))

from tiny_models import digest  # noqa: E402

LAYERWISE_COMMITTED = HERE.parent / "parity" / "layerwise_models"

# deep role: (committed base role, num_hidden_layers, start_layer, weight seed) — the real checkpoints' depth and heads
DEEP_LAYERWISE = {
    "tiny-minicpm-layerwise-40": ("tiny-minicpm-layerwise", 40, 8, 41),  # bge-reranker-v2-minicpm-layerwise
    "tiny-gemma2-lightweight-42": ("tiny-gemma2-lightweight", 42, 8, 42),  # bge-reranker-v2.5-gemma2-lightweight
}

# hub name in an example -> tiny checkpoint (role) its snapshot holds
HUB_NAMES = {
    # auto-models.md
    "bge-large-en-v1.5": "tiny-bert",
    "bge-base-en": "tiny-bert",
    "custom-model-name": "tiny-bert",
    "bge-reranker-base": "tiny-xlmr-reranker",
    # FlagEmbedding's README and examples/inference READMEs
    "BAAI/bge-base-en-v1.5": "tiny-bert",
    "BAAI/bge-large-zh-v1.5": "tiny-bert",
    "BAAI/bge-m3": "tiny-m3",
    "BAAI/bge-multilingual-gemma2": "tiny-gemma2",
    "BAAI/bge-en-icl": "tiny-mistral",
    "BAAI/bge-reranker-large": "tiny-xlmr-reranker",
    "BAAI/bge-reranker-v2-m3": "tiny-xlmr-reranker",
    "BAAI/bge-reranker-v2-gemma": "tiny-gemma",
    "BAAI/bge-reranker-v2-minicpm-layerwise": "tiny-minicpm-layerwise-40",
    "BAAI/bge-reranker-v2.5-gemma2-lightweight": "tiny-gemma2-lightweight-42",
    # The README's "custom model" examples load this placeholder both as an embedder (model_class='encoder-only-base',
    # pooling 'cls') and as a reranker (model_class='encoder-only-base'): a sequence-classification XLM-R serves both
    # (as an embedder its classifier is left out and the CLS state is pooled).
    "your_model_name_or_path": "tiny-xlmr-reranker",
}
# ("unknown-model" of auto-models.md's error-handling example is deliberately absent)

ENCODER_ROLES = ("tiny-bert", "tiny-xlmr-reranker", "tiny-m3")
DECODER_ROLES = ("tiny-gemma", "tiny-gemma2", "tiny-mistral")


def deep_layerwise(out_dir: Path, role: str) -> Path:
    """A committed layer-wise checkpoint at the real model's depth: the same config, tokenizer and tensor names
    (``model.layers.N.*`` for every layer, ``lm_head.K.linear_head.weight`` for every scored layer), new weights drawn
    in sorted-name order from a seeded generator as tiny_layerwise.py draws them (0.1·N(0, 1); RMSNorm weights
    1 + 0.1·N for MiniCPM, 0.1·N for Gemma's (1 + w) norm). Needs only torch and safetensors, so any environment
    builds the same bytes."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    base, layers, start_layer, seed = DEEP_LAYERWISE[role]
    source, folder = LAYERWISE_COMMITTED / base, out_dir / role
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(source / name, folder / name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config.update(num_hidden_layers=layers, start_layer=start_layer)
    (folder / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                        encoding="utf-8")
    with safe_open(str(source / "model.safetensors"), "pt") as committed:
        shapes = {key: tuple(committed.get_slice(key).get_shape()) for key in committed.keys()}
    n_heads = (layers - start_layer) // config.get("layer_sep", 1) + 1
    names = {}
    for key, shape in shapes.items():
        if key.startswith("model.layers.0."):
            names.update({f"model.layers.{i}.{key[len('model.layers.0.'):]}": shape for i in range(layers)})
        elif key.startswith("lm_head.0."):
            names.update({f"lm_head.{i}.{key[len('lm_head.0.'):]}": shape for i in range(n_heads)})
        elif not key.startswith(("model.layers.", "lm_head.")):
            names[key] = shape
    gemma = role.startswith("tiny-gemma")
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name in sorted(names):
        noise = torch.randn(names[name], generator=generator, dtype=torch.float32)
        if "norm" in name and len(names[name]) == 1:
            tensors[name] = (0.0 if gemma else 1.0) + 0.1 * noise
        else:
            tensors[name] = 0.1 * noise
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    return folder


def build_models(out_dir: Path) -> dict[str, Path]:
    """Every checkpoint the hub names point at, under out_dir/<role>."""
    import tiny_decoders
    import tiny_models

    models = {role: folder for role, folder in tiny_models.build(out_dir).items() if role in ENCODER_ROLES}
    for role in set(tiny_models.ROLES) - set(ENCODER_ROLES):
        shutil.rmtree(out_dir / role)
    models.update(tiny_decoders.build(out_dir, DECODER_ROLES))
    for role in DEEP_LAYERWISE:
        models[role] = deep_layerwise(out_dir, role)
    return models


def commit_hash(repo_id: str) -> str:
    return hashlib.sha1(f"migration-test:{repo_id}".encode()).hexdigest()


def build(out_dir: Path) -> tuple[Path, dict[str, str]]:
    """out_dir/hub (the cache) and out_dir/models; returns the cache folder and each role's digest."""
    out_dir = Path(out_dir)
    models = build_models(out_dir / "models")
    hub = out_dir / "hub"
    if hub.exists():
        shutil.rmtree(hub)
    for repo_id, role in HUB_NAMES.items():
        repo = hub / ("models--" + repo_id.replace("/", "--"))
        revision = commit_hash(repo_id)
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)
        for file in sorted(models[role].iterdir()):
            os.symlink(file.resolve(), snapshot / file.name)
    return hub, {role: digest(folder) for role, folder in sorted(models.items())}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cache, digests = build(Path(sys.argv[1]))
    print(cache)
    for built_role, sha in digests.items():
        print(built_role, sha)
