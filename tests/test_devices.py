import pytest

from bench import devices
from bench.errors import BenchError


def test_cpu_is_always_available():
    device = devices.resolve_device("cpu")
    assert device.kind == "cpu" and device.torch_device == "cpu"
    assert device.slug.startswith("cpu-")


def test_auto_falls_back_to_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 0)
    assert devices.resolve_device("auto").kind == "cpu"


def test_auto_picks_the_first_gpu_when_present(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 2)
    monkeypatch.setattr(devices, "_cuda_device", lambda i: devices.Device("cuda", i, "NVIDIA H100 80GB HBM3"))
    device = devices.resolve_device("auto")
    assert (device.kind, device.index, device.torch_device) == ("cuda", 0, "cuda:0")
    assert device.slug == "cuda0-nvidia-h100-80gb-hbm3"


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:1", "gpu", "", "cuda:-1"])
def test_unknown_device_is_refused_by_name(spec):
    with pytest.raises(BenchError, match="unknown device"):
        devices.resolve_device(spec)


def test_cuda_without_a_gpu_says_why(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 0)
    with pytest.raises(BenchError, match=r"device 'cuda' asked for, but"):
        devices.resolve_device("cuda")


def test_cuda_index_beyond_the_devices_present_is_refused(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 1)
    with pytest.raises(BenchError, match="has 1 CUDA device"):
        devices.resolve_device("cuda:3")
