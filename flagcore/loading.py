"""Loading Hugging Face tokenizers, configs and models for the families, with errors that name what is
missing. transformers is imported only when one of these functions runs."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Iterator

WEIGHT_FILES = (
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "vocab.json",
                   "tokenizer.model")


def check_local_model(path: str) -> None:
    """For a local directory, fail early naming the missing file instead of deep inside transformers."""
    folder = Path(os.path.expanduser(path))
    if not folder.is_dir():
        return  # a hub id: transformers resolves it (from the local cache, or the hub if allowed)
    present = {p.name for p in folder.iterdir()}
    if "config.json" not in present:
        raise FileNotFoundError(f"{folder} has no config.json; a model directory needs config.json, weights "
                                "and tokenizer files (as written by save_pretrained)")
    if not present.intersection(WEIGHT_FILES):
        raise FileNotFoundError(f"{folder} has no weights: expected one of {', '.join(WEIGHT_FILES)}")
    if not present.intersection(TOKENIZER_FILES):
        raise FileNotFoundError(f"{folder} has no tokenizer files: expected one of {', '.join(TOKENIZER_FILES)}")


def local_model_folder(reference: str, cache_dir: str | None) -> Path:
    """The local folder of a model. A hub id is looked up in the Hugging Face cache (``cache_dir``, else
    ``HF_HUB_CACHE`` / ``HF_HOME``, read now), and downloaded into it only when it is not there and ``HF_HUB_OFFLINE``
    is not set (as ``from_pretrained`` would)."""
    path = Path(os.path.expanduser(reference))
    if path.is_dir():
        return path
    from .probe import cached_snapshot

    snapshot = cached_snapshot(reference, cache_dir)
    if snapshot is not None:
        return snapshot
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=reference, cache_dir=cache_dir, ignore_patterns=[
        "flax_model.msgpack", "rust_model.ot", "tf_model.h5", "onnx/*", "*.onnx"]))


def load_tokenizer(path: str, *, trust_remote_code: bool, cache_dir: str | None) -> Any:
    from transformers import AutoTokenizer

    # AutoTokenizer reads config.json; a model type transformers does not know (a family's own architecture, such
    # as the layer-wise rerankers') makes it log that the config "may be incompatible", which is noise here
    config_logger = logging.getLogger("transformers.configuration_utils")
    config_logger.addFilter(_unknown_model_type_notice)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, cache_dir=cache_dir)
    finally:
        config_logger.removeFilter(_unknown_model_type_notice)


def _unknown_model_type_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("You are using a model of type")


def load_config(path: str, *, trust_remote_code: bool, cache_dir: str | None) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, cache_dir=cache_dir)


def load_transformer(auto_class_name: str, path: str | os.PathLike[str], *, dtype: Any, trust_remote_code: bool,
                     cache_dir: str | None, **extra: Any) -> Any:
    """``AutoModel`` / ``AutoModelForSequenceClassification`` / ... with an explicit dtype (transformers 5 would
    otherwise keep the checkpoint's dtype, e.g. fp16 weights on a CPU).

    transformers' load report is replaced by flagcore's own judgement: checkpoint weights the model does not use
    (a causal LM's ``lm_head`` under ``AutoModel``) are expected and not reported; weights the model needs but the
    checkpoint lacks, which transformers initialises randomly, are a ``RuntimeWarning`` naming them.
    """
    import transformers

    auto_class = getattr(transformers, auto_class_name)
    path = os.fspath(path)
    folder = Path(os.path.expanduser(path))
    use_safetensors = True if (folder / "model.safetensors").exists() or (
        folder / "model.safetensors.index.json").exists() else None
    try:
        with quiet_transformers():
            model, info = auto_class.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code,
                                                     cache_dir=cache_dir, use_safetensors=use_safetensors,
                                                     output_loading_info=True, **extra)
    except Exception as exc:
        weights = ", ".join(str(folder / n) for n in WEIGHT_FILES if (folder / n).exists()) or path
        if isinstance(exc, pickle.UnpicklingError):
            raise ValueError(refused_pickle_message(weights, exc)) from exc
        if type(exc).__name__ != "SafetensorError":
            raise
        raise ValueError(f"the weights in {weights} cannot be read ({exc}): the file is damaged or incomplete; "
                         "download or save the model again") from exc
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.warn(f"{path}: {len(missing)} weight(s) the {type(model).__name__} needs are not in the checkpoint "
                      f"and were initialised randomly ({shown}); its outputs are not the trained model's",
                      RuntimeWarning, stacklevel=3)
    return model


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' load report and its "Loading weights" bar off while a model loads (flagcore judges the report
    itself); the bar stays when the ``flagcore`` logger is at INFO or below (``flagcore --verbose``)."""
    from transformers.utils import logging as transformers_logging

    # the load report, and the tensor-parallel plan check that transformers runs when that logger is quiet
    quieted = [logging.getLogger(f"transformers.{name}") for name in ("modeling_utils", "distributed.tensor_parallel")]
    levels = [logger.level for logger in quieted]
    bar_was_on = transformers_logging.is_progress_bar_enabled()
    for logger in quieted:
        logger.setLevel(logging.ERROR)
    if bar_was_on and not logging.getLogger("flagcore").isEnabledFor(logging.INFO):
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level in zip(quieted, levels, strict=True):
            logger.setLevel(level)
        if bar_was_on:
            transformers_logging.enable_progress_bar()


def refused_pickle_message(where: str, error: BaseException) -> str:
    """Why a pickled weight file was not loaded: it holds objects beyond tensors, which are never unpickled."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"{where} holds more than plain tensors, so it was not loaded: pickled weight files are read only with "
            f"torch.load(weights_only=True), which refused it ({first}). Nothing in it was run. Use a safetensors "
            "copy of the weights, or re-save a plain state dict of tensors.")


def load_pretrained(owner: Any, auto_class_name: str, path: str | os.PathLike[str] | None = None,
                    **extra: Any) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of a checkpoint for a family's ``__init__``: the missing-file check, then the
    tokenizer and ``transformers.<auto_class_name>`` loaded with the owner's dtype, ``trust_remote_code`` and
    ``cache_dir``. ``path`` defaults to ``owner.model_name_or_path``."""
    where = os.fspath(path) if path is not None else owner.model_name_or_path
    check_local_model(where)
    options = {"trust_remote_code": owner.trust_remote_code, "cache_dir": owner.cache_dir}
    tokenizer = load_tokenizer(where, **options)
    model = load_transformer(auto_class_name, where, dtype=owner.torch_dtype, **options, **extra)
    return tokenizer, model
