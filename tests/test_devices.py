import pytest

from bench import devices
from bench.devices import Device
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


# -- CUDA compiler pieces, faked at the vendor boundary (cuda.pathfinder, cuda.bindings, pynvml) --

class _NotFound(Exception):
    pass


_NotFound.__name__ = "DynamicLibNotFoundError"


@pytest.fixture
def toolchain(monkeypatch):
    """A machine whose libraries, their versions and the driver the test decides."""
    import cuda.pathfinder
    import pynvml
    from types import SimpleNamespace

    from cuda.bindings import nvjitlink, nvrtc, nvvm

    state = SimpleNamespace(libs={"nvvm", "nvrtc", "nvJitLink"}, nvrtc=(13, 0), driver_cuda=13000, driver=True)

    def load(libname):
        if libname not in state.libs:
            raise _NotFound(f"Failure finding lib{libname}.so: No such file\n  listdir(...)")
        return SimpleNamespace(abs_path=f"/fake/lib{libname}.so", found_via="site-packages")

    def init():
        if not state.driver:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(cuda.pathfinder, "load_nvidia_dynamic_lib", load)
    monkeypatch.setattr(nvvm, "version", lambda: (2, 0))
    monkeypatch.setattr(nvrtc, "nvrtcVersion", lambda: (nvrtc.nvrtcResult.NVRTC_SUCCESS, *state.nvrtc))
    monkeypatch.setattr(nvjitlink, "version", lambda: (13, 0))
    monkeypatch.setattr(pynvml, "nvmlInit", init)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "580.65.06")
    monkeypatch.setattr(pynvml, "nvmlSystemGetCudaDriverVersion", lambda: state.driver_cuda)
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    return state


def test_compiler_pieces_name_versions_paths_and_the_driver(toolchain):
    pieces = {p.name: p for p in devices.cuda_compiler_pieces()}
    assert list(pieces) == ["NVVM", "NVRTC", "nvJitLink", "CUDA driver"]
    assert pieces["NVRTC"].version == "13.0" and pieces["NVRTC"].where == "/fake/libnvrtc.so (via site-packages)"
    assert pieces["NVVM"].version == "NVVM 2.0"
    assert pieces["CUDA driver"].version == "CUDA 13.0" and "580.65.06" in pieces["CUDA driver"].where
    assert devices.cuda_compiler_problem() is None
    devices.require_cuda_compiler()  # nothing missing: no refusal


def test_cuda_mining_without_nvvm_is_refused_in_one_line_naming_the_extras(toolchain):
    toolchain.libs = {"nvJitLink"}
    pieces = {p.name: p for p in devices.cuda_compiler_pieces()}
    assert not pieces["NVVM"].found and "\n" not in pieces["NVVM"].where
    with pytest.raises(BenchError) as err:
        devices.require_cuda_compiler()
    message = str(err.value)
    assert "NVVM, NVRTC" in message and "joulebench[cu12]" in message and "\n" not in message


def test_nvjitlink_is_reported_but_not_required(toolchain):
    toolchain.libs = {"nvvm", "nvrtc"}
    assert devices.cuda_compiler_problem() is None


def test_no_driver_is_a_missing_piece(toolchain):
    toolchain.driver = False
    assert "CUDA driver" in devices.cuda_compiler_problem()


def test_toolkit_newer_than_the_driver_is_refused_with_the_matching_extra(toolchain):
    toolchain.nvrtc, toolchain.driver_cuda = (13, 0), 12040
    problem = devices.cuda_compiler_problem()
    assert "13.0 is newer than the driver's CUDA 12.4" in problem and "joulebench[cu12]" in problem


def test_the_simulator_needs_no_compiler(toolchain, monkeypatch):
    toolchain.libs = set()
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    devices.require_cuda_compiler()


def test_mine_on_cuda_is_refused_before_measuring_but_infer_is_not(toolchain, monkeypatch):
    from bench.workloads import WorkloadOptions, make_workload

    toolchain.libs = set()
    with pytest.raises(BenchError, match="CUDA mining needs NVVM"):
        make_workload("mine", "quick", Device("cuda", 0, "test GPU"), WorkloadOptions())
    assert make_workload("infer", "quick", Device("cuda", 0, "test GPU"), WorkloadOptions()).name == "infer"


def test_bench_devices_json_lists_the_compiler_pieces(toolchain, capsys):
    import json

    from bench import cli

    toolchain.libs = {"nvrtc"}
    with pytest.raises(SystemExit) as exit_:
        cli.main(["devices", "--json"])
    assert exit_.value.code == 0
    listing = json.loads(capsys.readouterr().out)
    found = {p["name"]: p["found"] for p in listing["cuda_compiler"]}
    assert found == {"NVVM": False, "NVRTC": True, "nvJitLink": False, "CUDA driver": True}
    assert any(note.startswith("CUDA compiler piece NVVM: not found") for note in listing["notes"])
