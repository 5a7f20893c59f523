"""The peers of the CPU-backends benchmark (benchmarks/cpu_backends.py): each built in its own virtualenv.

- sentence-transformers (torch, ONNX, OpenVINO; and its int8 exports: ``export_dynamic_quantized_onnx_model`` with
  the ``avx512_vnni`` config, ``export_static_quantized_openvino_model`` calibrated on local texts);
- fastembed's ``TextEmbedding`` (ONNX Runtime) on the ONNX file sentence-transformers exported, registered with
  ``TextEmbedding.add_custom_model`` (mean pooling, normalised) and loaded from the folder (``specific_model_path``);
- infinity-emb's ``optimum`` engine (ONNX Runtime through optimum; it optimises the graph once, at load).

``prepare`` runs under sentence-transformers' interpreter and writes every exported copy into one folder:

    .nox/st-backends/bin/python benchmarks/cpu_peers.py prepare MODEL_DIR FOLDER CALIBRATION.json
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

Encode = Callable[[list[str]], Any]
#: files of the exported copies, relative to the prepared folder
DYNAMIC_INT8_ONNX = "onnx/model_qint8_avx512_vnni.onnx"
STATIC_INT8_OPENVINO = "openvino/openvino_model_qint8_quantized.xml"
INFINITY_FOLDER = "infinity-onnx"  # model.onnx alone (infinity takes the last of several .onnx files), at the top
#: the ONNX copy with the model's own tokenizer_config.json (model_max_length 512): fastembed truncates at that value
#: and has no argument for it, and sentence-transformers saves its max_seq_length (256) there
FASTEMBED_FOLDER = "fastembed-onnx"
CALIBRATION_SAMPLES = 300  # OVQuantizationConfig's default num_samples


def build_sentence_transformers(backend: str, options: dict, model_dir: str, prepared: str,
                                max_length: int) -> Encode:
    from sentence_transformers import SentenceTransformer

    model_kwargs = {}
    if "ov_config" in options:
        model_kwargs["ov_config"] = options["ov_config"]
    if "file_name" in options:
        model_kwargs["file_name"] = options["file_name"]
    model = SentenceTransformer(prepared if backend != "torch" else model_dir, device="cpu", backend=backend,
                                **({"model_kwargs": model_kwargs} if model_kwargs else {}))
    model.max_seq_length = max_length

    def encode(batch: list[str]) -> Any:
        return model.encode(batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    return encode


def build_fastembed(options: dict, prepared: str, threads: int) -> Encode:
    """fastembed on its own copy of the ONNX export, truncating at 512 tokens like every other row."""
    import numpy as np
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = "local/all-MiniLM-L6-v2-onnx"
    TextEmbedding.add_custom_model(name, pooling=PoolingType.MEAN, normalization=True,
                                   sources=ModelSource(hf="local/all-MiniLM-L6-v2-onnx"), dim=384,
                                   model_file="onnx/model.onnx")
    model = TextEmbedding(name, specific_model_path=str(Path(prepared) / FASTEMBED_FOLDER), threads=threads,
                          local_files_only=True)
    parallel, batch_size = options.get("parallel"), options.get("batch_size", 256)

    def encode(batch: list[str]) -> Any:
        return np.stack(list(model.embed(batch, batch_size=batch_size, parallel=parallel)))

    return encode


def build_infinity(prepared: str) -> Encode:
    """The engine as ``infinity_emb v2 --engine optimum`` builds it (its default batch size, 32), mean pooling set:
    the optimum engine pools with the CLS token unless told ``mean``. Its folder holds ``model.onnx`` at the top,
    loaded as ``.`` from inside: infinity-emb 0.0.78 hands optimum the ONNX file's path as globbed from the folder
    (``/abs/folder/onnx/model.onnx``), and optimum 2.1 matches ``file_name`` against bare file names only."""
    import numpy as np
    from infinity_emb import EngineArgs, SyncEngineArray

    os.chdir(Path(prepared) / INFINITY_FOLDER)
    engine = SyncEngineArray.from_args([EngineArgs(model_name_or_path=".", engine="optimum", device="cpu",
                                                   pooling_method="mean", model_warmup=False)])

    def encode(batch: list[str]) -> Any:
        embeddings, _ = engine.embed(model=".", sentences=batch).result()
        return np.asarray(embeddings, dtype=np.float32)

    return encode


# -- the exports (under sentence-transformers' interpreter) --------------------------------------------------------
def prepare(model_dir: str, folder: Path, calibration: list[str]) -> dict[str, str]:
    """ONNX and OpenVINO copies, the two int8 exports and infinity's folder; {export: why it was skipped}."""
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    skipped: dict[str, str] = {}
    onnx = SentenceTransformer(model_dir, device="cpu", backend="onnx")
    onnx.save_pretrained(str(folder))
    SentenceTransformer(model_dir, device="cpu", backend="openvino").save_pretrained(str(folder))
    export_dynamic_quantized_onnx_model(onnx, "avx512_vnni", str(folder))
    try:
        static_openvino(folder, calibration)
    except Exception as error:  # recorded, and its row skipped: the other rows still run
        skipped[STATIC_INT8_OPENVINO] = f"{type(error).__name__}: {str(error)[:500]}"
    copies = shutil.ignore_patterns("onnx", "openvino", INFINITY_FOLDER, FASTEMBED_FOLDER)
    infinity = folder / INFINITY_FOLDER
    shutil.copytree(folder, infinity, ignore=copies)
    shutil.copy(folder / "onnx" / "model.onnx", infinity / "model.onnx")
    fastembed = folder / FASTEMBED_FOLDER
    shutil.copytree(folder, fastembed, ignore=copies)
    (fastembed / "onnx").mkdir()
    shutil.copy(folder / "onnx" / "model.onnx", fastembed / "onnx" / "model.onnx")
    shutil.copy(Path(model_dir) / "tokenizer_config.json", fastembed / "tokenizer_config.json")
    return skipped


def static_openvino(folder: Path, calibration: list[str]) -> None:
    """``export_static_quantized_openvino_model`` calibrated on local texts: its dataset arguments go to
    ``datasets.load_dataset``, which reads a local folder of data files (config ``default``) without a download."""
    from sentence_transformers import SentenceTransformer, export_static_quantized_openvino_model

    data = folder / "calibration-data"
    data.mkdir()
    rows = calibration[:CALIBRATION_SAMPLES]
    (data / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in rows), encoding="utf-8")
    model = SentenceTransformer(str(folder), device="cpu", backend="openvino")
    export_static_quantized_openvino_model(model, None, str(folder), dataset_name=str(data),
                                           dataset_config_name="default", dataset_split="train", column_name="text")
    shutil.rmtree(data)


if __name__ == "__main__":
    if sys.argv[1:2] != ["prepare"] or len(sys.argv) != 5:
        sys.exit(__doc__)
    texts = json.loads(Path(sys.argv[4]).read_text(encoding="utf-8"))
    print(json.dumps(prepare(sys.argv[2], Path(sys.argv[3]), texts)))
