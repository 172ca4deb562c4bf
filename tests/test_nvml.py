"""NVML adapter and meters against a patched ``pynvml``: the real calling code, a GPU played by the test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml
import pytest

from bench import nvml
from bench.devices import Device
from bench.errors import BenchError
from bench.meters import select_meter, survey
from bench.meters.base import MEASURED
from bench.meters.nvml_meter import NvmlEnergyMeter, NvmlSampledMeter, open_nvml_meter
from tests.fakes import ManualClock

GPU0 = Device("cuda", 0, "Fake GPU")


@dataclass
class FakeGpu:
    """What one GPU answers; ``None`` for a field means NVML_ERROR_NOT_SUPPORTED."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-11111111-2222-3333-4444-555555555555"
    energy_mj: int | None = 1_000_000
    power_mw: int = 150_000
    power_limit_mw: int | None = 700_000
    sm_clock_mhz: int = 1980
    mem_clock_mhz: int = 2619
    temperature_c: int = 41
    clock_event_mask: int = 0x1  # gpu_idle
    mig: list[int] | None = field(default_factory=lambda: [0, 0])
    memory_total_bytes: int | None = 85_520_809_984
    fail: dict[str, int] = field(default_factory=dict)  # function name -> NVML error code
    # The counter also steps by ``counter_step_mj`` every ``counter_period_s`` of ``counter_clock``
    # (a real counter updates in steps); None: it moves only when the test adds to energy_mj.
    counter_period_s: float | None = 0.01
    counter_step_mj: int = 1_000
    counter_clock: object = time.monotonic
    instant_power_mw: int | None = 180_000  # None: the field is NOT_SUPPORTED (an old driver)
    violation_ns: dict[int, int] | None = field(default_factory=lambda: {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0})

    def counter(self) -> int | None:
        if self.energy_mj is None:
            return None
        steps = 0 if self.counter_period_s is None else int(self.counter_clock() / self.counter_period_s)
        return self.energy_mj + steps * self.counter_step_mj


class FakeNvml:
    """Patches the pynvml functions bench.nvml calls; counts init/shutdown to check they balance."""

    def __init__(self, monkeypatch, gpus: list[FakeGpu]) -> None:
        self.gpus = gpus
        self.inits = 0
        self.shutdowns = 0
        self.init_error: int | None = None
        monkeypatch.setattr(nvml, "_torch_cuda_uuid", lambda index: None)
        patches = {
            "nvmlInit": self.init,
            "nvmlShutdown": self.shutdown,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": self.handle,
            "nvmlDeviceGetName": lambda h: self.answer(h, "nvmlDeviceGetName", h.name),
            "nvmlDeviceGetUUID": lambda h: h.uuid,
            "nvmlSystemGetDriverVersion": lambda: "550.54.15",
            "nvmlSystemGetCudaDriverVersion": lambda: 12040,
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: self.answer(h, "energy", h.counter()),
            "nvmlDeviceGetFieldValues": self.field_values,
            "nvmlDeviceGetViolationStatus": self.violation,
            "nvmlDeviceGetPowerUsage": lambda h: self.answer(h, "power", h.power_mw),
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: self.answer(h, "limit", h.power_limit_mw),
            "nvmlDeviceGetClockInfo": lambda h, kind: {1: h.sm_clock_mhz, 2: h.mem_clock_mhz}[kind],
            "nvmlDeviceGetTemperature": lambda h, sensor: h.temperature_c,
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: h.clock_event_mask,
            "nvmlDeviceGetMigMode": lambda h: self.answer(h, "mig", h.mig),
            "nvmlDeviceGetMemoryInfo": lambda h: self.answer(
                h, "memory", None if h.memory_total_bytes is None else SimpleNamespace(total=h.memory_total_bytes)
            ),
        }
        for name, function in patches.items():
            monkeypatch.setattr(pynvml, name, function)

    def init(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.inits += 1

    def shutdown(self) -> None:
        self.shutdowns += 1

    @staticmethod
    def field_values(gpu: FakeGpu, field_ids: list[int]):
        # As the driver answers: one entry per field, each with its own return code.
        assert field_ids == [pynvml.NVML_FI_DEV_POWER_INSTANT]
        value = pynvml.c_nvmlFieldValue_t()
        value.fieldId = field_ids[0]
        if gpu.instant_power_mw is None:
            value.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
        else:
            value.nvmlReturn, value.valueType = pynvml.NVML_SUCCESS, pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
            value.value.uiVal = gpu.instant_power_mw
        return [value]

    def violation(self, gpu: FakeGpu, policy: int):
        if gpu.violation_ns is None or policy not in gpu.violation_ns:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        answer = pynvml.c_nvmlViolationTime_t()
        answer.referenceTime, answer.violationTime = 0, gpu.violation_ns[policy]
        return answer

    def handle(self, index: int) -> FakeGpu:
        if index >= len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    @staticmethod
    def answer(gpu: FakeGpu, what: str, value):
        if what in gpu.fail:
            raise pynvml.NVMLError(gpu.fail[what])
        if value is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value



@pytest.fixture
def one_gpu(monkeypatch) -> tuple[FakeNvml, FakeGpu]:
    gpu = FakeGpu()
    return FakeNvml(monkeypatch, [gpu]), gpu


def test_snapshot_gives_watts_versions_clocks_and_throttle_names(one_gpu) -> None:
    fake, gpu = one_gpu
    gpu.clock_event_mask = 0x4 | 0x40
    snap = nvml.gpu_snapshot(0)
    assert snap["name"] == "NVIDIA H100 80GB HBM3"
    assert snap["uuid"] == gpu.uuid
    assert snap["driver_version"] == "550.54.15"
    assert snap["cuda_driver_version"] == "12.4"
    assert snap["power_limit_w"] == 700.0
    assert (snap["sm_clock_mhz"], snap["mem_clock_mhz"], snap["temperature_c"]) == (1980, 2619, 41)
    assert snap["throttle_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert snap["memory_total_bytes"] == 85_520_809_984
    assert snap["mig_mode"] == "disabled"
    assert fake.inits == fake.shutdowns == 1


def test_snapshot_fields_a_gpu_lacks_are_none_not_errors(one_gpu) -> None:
    _fake, gpu = one_gpu
    gpu.mig, gpu.memory_total_bytes, gpu.power_limit_mw = None, None, None
    snap = nvml.gpu_snapshot(0)
    assert (snap["mig_mode"], snap["memory_total_bytes"], snap["power_limit_w"]) == ("not supported", None, None)


def test_missing_driver_library_is_a_one_line_bench_error(one_gpu) -> None:
    fake, _gpu = one_gpu
    fake.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    with pytest.raises(BenchError, match=r"libnvidia-ml\.so\.1") as err:
        nvml.gpu_snapshot(0)
    assert "\n" not in str(err.value)
    with pytest.raises(BenchError, match=r"no energy meter for cuda:0: .*libnvidia-ml.*--watts or --watts-command"):
        select_meter(GPU0)


def test_energy_counter_window_gives_joules_exact_from_millijoules(one_gpu) -> None:
    fake, gpu = one_gpu
    gpu.counter_period_s = None
    clock = ManualClock(50.0)
    meter = NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, align=False)
    meter.begin("mine/hash/0")
    gpu.energy_mj += 234_567
    clock.now += 1.5
    m = meter.end("mine/hash/0")
    meter.close()
    assert m.joules == pytest.approx(234.567, abs=1e-9)
    assert m.seconds == 1.5
    assert m.kind == MEASURED and m.source.startswith("measured: NVML total-energy counter")
    assert m.details["state_start"]["power_limit_w"] == 700.0
    assert m.details["throttled"] == []
    assert fake.inits == fake.shutdowns == 1


def test_select_meter_picks_the_energy_counter_when_the_gpu_has_one(one_gpu) -> None:
    meter = select_meter(GPU0)
    try:
        assert isinstance(meter, NvmlEnergyMeter)
        assert meter.describe()["gpu"]["name"] == "NVIDIA H100 80GB HBM3"
    finally:
        meter.close()


def test_counter_that_does_not_advance_is_refused_not_reported_as_zero(one_gpu) -> None:
    one_gpu[1].counter_period_s = None
    clock = ManualClock(50.0)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, align=False) as meter:
        meter.begin("short")
        clock.now += 0.05
        with pytest.raises(BenchError, match="read 0 J over 0.050 s.*at least 1 s"):
            meter.end("short")


def test_without_energy_counter_power_is_sampled_and_integrated_by_trapezoids(one_gpu) -> None:
    fake, gpu = one_gpu
    gpu.energy_mj = None  # a pre-Volta card: NOT_SUPPORTED
    gpu.instant_power_mw = None  # and a driver without the instant-power field
    meter = open_nvml_meter(0, sampling_period_s=3600.0)  # thread stays quiet: edges only
    assert isinstance(meter, NvmlSampledMeter)
    meter.close()

    clock = ManualClock(50.0)
    gpu.power_mw = 100_000
    with NvmlSampledMeter(nvml.open_gpu(0), period_s=3600.0, clock=clock) as meter:
        meter.begin("w")
        clock.now += 2.0
        gpu.power_mw = 200_000
        m = meter.end("w")
        described = meter.describe()
    assert m.joules == pytest.approx(300.0, abs=1e-9)  # (100 W + 200 W) / 2 x 2 s
    assert m.details["counts"] == {"samples": 1}
    assert "sampled every" in m.source and m.kind == MEASURED
    assert described["sampling_period_s"] == 3600.0
    assert fake.inits == fake.shutdowns == 2


def test_throttling_seen_at_a_window_edge_is_flagged_where_no_violation_counters(one_gpu) -> None:
    _fake, gpu = one_gpu
    gpu.counter_period_s, gpu.violation_ns = None, None
    clock = ManualClock(50.0)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, align=False) as meter:
        meter.begin("w")
        gpu.energy_mj += 5_000
        gpu.clock_event_mask = 0x1 | 0x4 | 0x8  # idle is not throttling; power cap and HW slowdown are
        gpu.temperature_c = 83
        clock.now += 1.0
        m = meter.end("w")
    assert m.details["throttled"] == ["hw_slowdown", "sw_power_cap"]
    assert m.details["throttle_basis"].startswith("clocks-event reasons at either edge")
    assert m.details["state_start"]["throttle_reasons"] == ["gpu_idle"]
    assert m.details["state_end"]["temperature_c"] == 83


def test_gpu_lost_mid_run_surfaces_at_the_window_end(one_gpu) -> None:
    _fake, gpu = one_gpu
    with NvmlEnergyMeter(nvml.open_gpu(0), align=False) as meter:
        meter.begin("w")
        gpu.fail["energy"] = pynvml.NVML_ERROR_GPU_IS_LOST
        with pytest.raises(BenchError, match="nvmlDeviceGetTotalEnergyConsumption failed: GPU is lost"):
            meter.end("w")


def test_energy_counter_error_other_than_unsupported_is_not_hidden_by_sampling(one_gpu) -> None:
    fake, gpu = one_gpu
    gpu.fail["energy"] = pynvml.NVML_ERROR_NO_PERMISSION
    with pytest.raises(BenchError, match="Insufficient Permissions"):
        select_meter(GPU0)
    assert fake.inits == fake.shutdowns


def test_mig_enabled_gpu_is_refused_with_the_reason(one_gpu) -> None:
    fake, gpu = one_gpu
    gpu.mig = [1, 1]
    with pytest.raises(BenchError, match="MIG enabled.*whole GPU"):
        select_meter(GPU0)
    assert fake.inits == fake.shutdowns == 1
    assert [s.usable for s in survey(GPU0)] == [False, True]


def test_cuda_ordinal_is_matched_to_nvml_by_uuid(monkeypatch) -> None:
    first, second = FakeGpu(name="A", uuid="GPU-aaaa"), FakeGpu(name="B", uuid="GPU-bbbb")
    FakeNvml(monkeypatch, [first, second])
    # CUDA_VISIBLE_DEVICES=1: torch's cuda:0 is NVML's GPU 1; torch prints the UUID without "GPU-".
    monkeypatch.setattr(nvml, "_torch_cuda_uuid", lambda index: "bbbb")
    snap = nvml.gpu_snapshot(0)
    assert (snap["name"], snap["nvml_index"], snap["cuda_index"]) == ("B", 1, 0)
    monkeypatch.setattr(nvml, "_torch_cuda_uuid", lambda index: "MIG-cccc")
    with pytest.raises(BenchError, match="not a whole GPU NVML can see"):
        nvml.gpu_snapshot(0)


def test_ordinal_beyond_nvml_count_is_refused(one_gpu) -> None:
    with pytest.raises(BenchError, match="NVML sees 1 GPU"):
        nvml.gpu_snapshot(3)


def test_survey_lists_counter_and_sampling_for_every_gpu(monkeypatch, tmp_path) -> None:
    from bench.meters import rapl

    monkeypatch.setattr(rapl, "DEFAULT_ROOT", tmp_path / "none")
    monkeypatch.delenv("JOULEBENCH_POWERCAP_ROOT", raising=False)
    FakeNvml(monkeypatch, [FakeGpu(), FakeGpu(name="Tesla P100", uuid="GPU-p100", energy_mj=None)])
    uuids = ["11111111-2222-3333-4444-555555555555", "p100"]  # torch sees both, in NVML's order here
    monkeypatch.setattr(nvml, "_torch_cuda_uuid", lambda index: uuids[index])
    rows = {(s.device, s.meter): s for s in survey()}
    assert rows[("cuda:0", "nvml-energy")].usable
    assert rows[("cuda:1", "nvml-energy")].usable is False
    assert "Not Supported" in rows[("cuda:1", "nvml-energy")].reason
    assert rows[("cuda:1", "nvml-power-sampling")].usable
    assert rows[("cuda:1", "nvml-power-sampling")].reason == "power reads 150.0 W (Tesla P100)"
    assert rows[("cpu", "rapl")].usable is False
    assert set(rows[("cpu", "rapl")].to_dict()) == {"meter", "device", "usable", "reason"}


def test_survey_without_nvml_says_why_and_does_not_raise(one_gpu) -> None:
    fake, _gpu = one_gpu
    fake.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    rows = survey(GPU0)
    assert rows[0].meter == "nvml" and not rows[0].usable
    assert "driver is not loaded" in rows[0].reason


def test_throttle_reason_names_keep_unknown_bits() -> None:
    assert nvml.throttle_reason_names(0) == []
    assert nvml.throttle_reason_names(0x10 | 0x1000) == ["sync_boost", "unknown_0x1000"]


# -- issue 13 item 3: window edges on counter updates, instant power, violation time -----------

def _stepping_counter(gpu: FakeGpu, period_s: float, watts: float) -> ManualClock:
    """A counter that steps every ``period_s`` of a manual clock, which the meter's sleeps advance."""
    clock = ManualClock(50.03)
    gpu.counter_clock, gpu.counter_period_s = clock, period_s
    gpu.counter_step_mj = round(watts * period_s * 1000)
    return clock


def _advance(clock: ManualClock):
    def sleep(seconds: float) -> None:
        clock.now += seconds

    return sleep


def test_update_period_is_measured_and_sets_the_minimum_window(one_gpu) -> None:
    _fake, gpu = one_gpu
    clock = _stepping_counter(gpu, 0.4, 100.0)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, sleep=_advance(clock)) as meter:
        assert meter.update_period_s == pytest.approx(0.4, abs=2e-3)
        assert meter.min_window_s == pytest.approx(4.0, abs=0.02)  # 10 update periods
        assert meter.describe()["counter_update_period_s"] == meter.update_period_s


def test_aligned_edges_give_the_true_power_where_unaligned_ones_are_off(one_gpu) -> None:
    _fake, gpu = one_gpu
    clock = _stepping_counter(gpu, 0.1, 100.0)
    sleep = _advance(clock)

    def window(meter) -> object:
        clock.now = 60.03  # asked mid-way between two updates
        meter.begin("w")
        sleep(1.04 - (clock.now - 60.03))  # the work ends mid-way too
        return meter.end("w")

    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, sleep=sleep, align=False) as plain:
        unaligned = window(plain)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, sleep=sleep) as meter:
        aligned = window(meter)
    assert unaligned.watts == pytest.approx(100.0 / 1.04, rel=1e-3)  # 10 steps over 1.04 s: 4% low
    assert aligned.watts == pytest.approx(100.0, rel=3e-3)
    edges = aligned.details["edges"]
    assert edges["start"]["aligned"] and edges["end"]["aligned"]
    assert 0 < edges["start"]["waited_s"] <= 0.1


def test_a_counter_that_stops_updating_is_read_unaligned_and_says_so(one_gpu) -> None:
    _fake, gpu = one_gpu
    clock = _stepping_counter(gpu, 0.1, 100.0)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, sleep=_advance(clock)) as meter:
        meter.begin("w")
        stuck_at = clock.now
        gpu.counter_clock = lambda: stuck_at  # no more steps from here on
        gpu.energy_mj += 50_000
        clock.now += 1.0
        m = meter.end("w")
    assert m.details["edges"]["end"] == {"aligned": False, "why": "no counter update within 3 periods"}
    assert m.joules > 0


def test_power_sampling_reads_instant_power_where_the_field_is_supported(one_gpu) -> None:
    _fake, gpu = one_gpu
    gpu.energy_mj = None
    clock = ManualClock(50.0)
    with NvmlSampledMeter(nvml.open_gpu(0), period_s=3600.0, clock=clock) as meter:
        meter.begin("w")
        clock.now += 2.0
        m = meter.end("w")
        described = meter.describe()
    assert m.joules == pytest.approx(360.0)  # 180 W instant, not the 150 W average
    assert "instant power" in m.source
    assert "NVML_FI_DEV_POWER_INSTANT" in described["reading"]
    gpu.instant_power_mw = None
    with NvmlSampledMeter(nvml.open_gpu(0), period_s=3600.0, clock=clock) as meter:
        assert meter.describe()["reading"].startswith("nvmlDeviceGetPowerUsage (mW; instant power unavailable")
        assert "1 s average" in meter.label


def test_throttling_between_the_edges_is_caught_by_violation_time(one_gpu) -> None:
    _fake, gpu = one_gpu
    gpu.counter_period_s = None
    clock = ManualClock(50.0)
    with NvmlEnergyMeter(nvml.open_gpu(0), clock=clock, align=False) as meter:
        meter.begin("w")
        gpu.energy_mj += 5_000
        gpu.violation_ns[0] += 250_000_000  # 0.25 s power-capped mid-window
        gpu.violation_ns[4] += 900_000_000  # low utilisation: not throttling
        clock.now += 1.0
        m = meter.end("w")
    # Both edges show no throttle reason: snapshots alone would have missed it.
    assert m.details["state_start"]["throttle_reasons"] == m.details["state_end"]["throttle_reasons"] == ["gpu_idle"]
    assert m.details["throttled"] == ["power_cap"]
    assert m.details["violation_s"]["power_cap"] == pytest.approx(0.25)
    assert m.details["violation_s"]["low_utilization"] == pytest.approx(0.9)
    assert "violation time" in m.details["throttle_basis"]


# -- issue 13 item 6: GPUs labelled in torch's order, matched by UUID ---------------------------

def _two_gpus(monkeypatch) -> FakeNvml:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return FakeNvml(monkeypatch, [FakeGpu(name="A", uuid="GPU-aaaa-1"), FakeGpu(name="B", uuid="GPU-bbbb-2")])


def test_bench_devices_labels_gpus_in_torchs_order_not_nvmls(monkeypatch) -> None:
    import torch

    from bench import devices, report_run

    _two_gpus(monkeypatch)
    # CUDA's default order (fastest first) put NVML's GPU 1 first: torch's cuda:0 is B.
    torch_order = {0: ("B", "bbbb-2"), 1: ("A", "aaaa-1")}
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: torch_order[index][0])
    monkeypatch.setattr(nvml, "_torch_cuda_uuid", lambda index: torch_order[index][1])
    listing = {d["device"]: d for d in report_run.device_listing()["devices"]}
    for label, name in (("cuda:0", "B"), ("cuda:1", "A")):
        assert listing[label]["name"] == name
        energy = next(m for m in listing[label]["meters"] if m["meter"] == "nvml-energy")
        assert energy["reason"].endswith(f"({name})")  # the meter reads the same GPU the label names
    assert nvml.gpu_snapshot(0)["index_mapping"] == "matched by UUID bbbb-2"


def test_without_a_torch_uuid_an_ambiguous_ordinal_is_refused_not_guessed(monkeypatch) -> None:
    _two_gpus(monkeypatch)
    with pytest.raises(BenchError, match=r"cannot tell which of NVML's 2 GPU\(s\) is cuda:0.*nvidia-smi -L"):
        nvml.gpu_snapshot(0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # an index: CUDA's, which NVML need not share
    with pytest.raises(BenchError, match="cannot tell"):
        nvml.gpu_snapshot(0)


def test_without_a_torch_uuid_cuda_visible_devices_uuids_decide(monkeypatch) -> None:
    _two_gpus(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb,GPU-aaaa")  # prefixes, as CUDA accepts
    first, second = nvml.gpu_snapshot(0), nvml.gpu_snapshot(1)
    assert (first["name"], first["nvml_index"]) == ("B", 1)
    assert (second["name"], second["nvml_index"]) == ("A", 0)
    assert first["index_mapping"] == "matched by UUID GPU-bbbb from CUDA_VISIBLE_DEVICES"


def test_one_gpu_without_a_torch_uuid_is_that_gpu(one_gpu, monkeypatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert nvml.gpu_snapshot(0)["index_mapping"] == "the only GPU (torch gave no UUID)"


def test_a_run_metered_by_nvml_saves_a_result_the_loader_accepts(one_gpu, tmp_path) -> None:
    """Aligned edges, violation times and instant-power labels go into windows' meter details:
    the result format must take them as they are."""
    from bench import runner
    from bench.results import load_result
    from tests.fakes import CPU, FakeClock, FakeWorkload  # CPU: a device whose synchronize is a no-op

    _fake, gpu = one_gpu
    gpu.counter_period_s = 0.002  # real time: a fast counter keeps the test short
    clock = FakeClock()
    protocol = runner.Protocol("quick", warmup_s=0.05, window_s=0.1, windows=2, idle_s=0.01)
    with NvmlEnergyMeter(nvml.open_gpu(0)) as meter:
        meter.min_window_s = 0.0  # the workload runs on fake time; the counter on real time
        document = runner.run(
            runner.new_document(tool={"version": "t"}, machine={}, device={"name": "GPU", "kind": "cuda"},
                                protocol=protocol, meter=meter.describe()),
            [FakeWorkload(clock)], CPU, meter, protocol, tmp_path / "r.json", clock=clock, sleep=time.sleep)
    assert document["status"] == "complete", document["workloads"][0].get("error")
    window = load_result(tmp_path / "r.json")["workloads"][0]["phases"][0]["windows"][0]
    assert window["meter_details"]["edges"]["end"]["aligned"] is True
    assert window["meter_details"]["throttle_basis"].startswith("violation time")
    assert 0.0015 < meter.update_period_s < 0.1  # measured: slow polling on a busy machine sees fewer changes
