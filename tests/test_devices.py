from __future__ import annotations

import pytest
import torch

from flagcore.engine.devices import resolve_devices
from flagcore.engine.precision import compute_dtype_name


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_none_means_cpu_without_accelerators(no_gpu):
    assert resolve_devices(None) == ["cpu"]


def test_none_means_every_gpu_when_there_are_some(two_gpus):
    assert resolve_devices(None) == ["cuda:0", "cuda:1"]


@pytest.mark.parametrize(
    ("devices", "expected"),
    [("cpu", ["cpu"]), ("cpu:0", ["cpu"]), (["cpu", "cpu"], ["cpu", "cpu"]), (("cpu",), ["cpu"])],
)
def test_cpu_forms(no_gpu, devices, expected):
    assert resolve_devices(devices) == expected


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        ("cuda", ["cuda:0"]),
        ("cuda:1", ["cuda:1"]),
        (1, ["cuda:1"]),
        ("1", ["cuda:1"]),
        ([0, 1], ["cuda:0", "cuda:1"]),
        (["cuda:1", "cpu"], ["cuda:1", "cpu"]),
    ],
)
def test_gpu_forms(two_gpus, devices, expected):
    assert resolve_devices(devices) == expected


@pytest.mark.parametrize("devices", ["cuda:0", 0, [0], "cuda"])
def test_gpu_requested_without_cuda_is_a_device_error(no_gpu, devices):
    with pytest.raises(RuntimeError, match="Device error: .*CUDA is not available"):
        resolve_devices(devices)


def test_gpu_index_out_of_range(two_gpus):
    with pytest.raises(RuntimeError, match=r"'cuda:2'.*only 2 CUDA device"):
        resolve_devices(["cuda:0", "cuda:2"])


@pytest.mark.parametrize("devices", ["invalid:0", ["invalid:0"], "gpu", ["cpu", "tpu:0"]])
def test_unknown_device_names_it(no_gpu, devices):
    with pytest.raises(RuntimeError, match="Device error") as info:
        resolve_devices(devices)
    wanted = devices if isinstance(devices, str) else devices[-1]
    assert repr(wanted) in str(info.value)


def test_mps_requested_without_mps(no_gpu):
    with pytest.raises(RuntimeError, match="MPS is not available"):
        resolve_devices("mps")


@pytest.mark.parametrize("devices", [[], 1.5, True, [None], {"cpu"}])
def test_malformed_devices_argument(no_gpu, devices):
    with pytest.raises(ValueError, match="devices"):
        resolve_devices(devices)


@pytest.mark.parametrize(
    ("device", "fp16", "bf16", "expected"),
    [
        ("cpu", True, False, "float32"),
        ("cpu", False, True, "float32"),  # a CPU without native bf16 (set below)
        ("cpu", True, True, "float32"),
        ("cpu-bf16", False, True, "bfloat16"),  # a CPU with native bf16
        ("cpu-bf16", True, True, "bfloat16"),
        ("cpu-bf16", True, False, "float32"),
        ("cpu-bf16", False, False, "float32"),
        ("cuda:0", True, False, "float16"),
        ("cuda:0", False, True, "bfloat16"),
        ("cuda:0", True, True, "bfloat16"),
        ("cuda:0", False, False, "float32"),
        ("mps", True, False, "float16"),
    ],
)
def test_compute_dtype(device, fp16, bf16, expected, monkeypatch):
    monkeypatch.setenv("FLAGCORE_CPU_BF16", "1" if device == "cpu-bf16" else "0")
    assert compute_dtype_name(device.removesuffix("-bf16"), fp16, bf16) == expected
