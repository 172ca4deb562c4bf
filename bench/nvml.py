"""NVIDIA GPUs through NVML (nvidia-ml-py): the one place joulebench calls ``pynvml``.

Every NVML error is translated here into a BenchError naming the call and, where there is one,
the fix. Units are converted here too: NVML speaks mW and mJ, callers get W and mJ counters.

Devices are named by their CUDA ordinal (what torch calls ``cuda:N``). NVML numbers GPUs its own
way (PCI order, all GPUs, ignoring CUDA_VISIBLE_DEVICES), so the ordinal is matched to an NVML
device by UUID when torch can tell the UUID.
"""

from __future__ import annotations

from typing import Any, Callable

from bench.errors import BenchError

# NVML return codes (nvml.h); kept here so callers need not import pynvml.
NOT_SUPPORTED = 3
NO_PERMISSION = 4
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15

_HINTS = {
    NOT_SUPPORTED: "this GPU or driver does not offer it",
    NO_PERMISSION: "the user running joulebench may not query this GPU",
    DRIVER_NOT_LOADED: "the NVIDIA kernel driver is not loaded",
    LIBRARY_NOT_FOUND: "no NVIDIA driver library (libnvidia-ml.so.1) on this machine",
    FUNCTION_NOT_FOUND: "the driver is older than this NVML call",
    GPU_IS_LOST: "the GPU fell off the bus; see dmesg",
}

# Bits of nvmlDeviceGetCurrentClocksEventReasons (formerly ...ThrottleReasons), nvml.h.
_CLOCK_EVENT_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# The reasons that mean the GPU ran slower than it would have: a measurement under them is flagged.
THROTTLING_REASONS = frozenset(
    {"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)

# nvmlDeviceGetViolationStatus policies (nvmlPerfPolicyType_t): the time, in ns since the driver
# loaded, that clocks were held down for each reason. Differences over a window say how long
# the window ran throttled, which two snapshots of the reasons at its edges cannot.
_PERF_POLICIES = {0: "power_cap", 1: "thermal", 2: "sync_boost", 3: "board_limit", 4: "low_utilization",
                  5: "reliability"}
# Those that mean the GPU was held below what it would have done (low utilisation and sync boost do not).
THROTTLING_POLICIES = frozenset({"power_cap", "thermal", "board_limit", "reliability"})
FI_DEV_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT, nvml.h: instantaneous board power, mW
_VALUE_TYPE_UNSIGNED_INT = 1  # NVML_VALUE_TYPE_UNSIGNED_INT

_CLOCK_SM = 1  # NVML_CLOCK_SM
_CLOCK_MEM = 2  # NVML_CLOCK_MEM
_TEMPERATURE_GPU = 0  # NVML_TEMPERATURE_GPU


class NvmlError(BenchError):
    """An NVML call failed; ``code`` is NVML's return code (None when pynvml itself is missing)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _pynvml() -> Any:
    try:
        import pynvml
    except ImportError:
        raise NvmlError("NVML unavailable: the nvidia-ml-py package is not installed") from None
    return pynvml


def _call(function: str, *args: Any) -> Any:
    pynvml = _pynvml()
    try:
        return getattr(pynvml, function)(*args)
    except pynvml.NVMLError as exc:
        code = getattr(exc, "value", None)
        try:
            text = str(exc)
        except Exception:  # pynvml asks the (maybe missing) library for the text of unknown codes
            text = f"NVML error {code}"
        hint = _HINTS.get(code)
        raise NvmlError(f"NVML {function} failed: {text}" + (f" ({hint})" if hint else ""), code) from None


def _optional(function: str, *args: Any) -> Any:
    """A call some GPUs do not support: None there, any other error raised."""
    try:
        return _call(function, *args)
    except NvmlError as exc:
        if exc.code == NOT_SUPPORTED:
            return None
        raise


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bare_uuid(uuid: str) -> str:
    text = uuid.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def throttle_reason_names(mask: int) -> list[str]:
    """Names of the bits set in an NVML clocks-event (throttle) reason mask."""
    names = [name for bit, name in _CLOCK_EVENT_BITS.items() if mask & bit]
    unknown = mask & ~sum(_CLOCK_EVENT_BITS)
    if unknown:
        names.append(f"unknown_{unknown:#x}")
    return names


def _torch_cuda_uuid(cuda_index: int) -> str | None:
    """UUID of ``cuda:N`` as CUDA (and so torch) sees it; None when torch cannot say."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return str(torch.cuda.get_device_properties(cuda_index).uuid)
    except Exception:  # an old torch without .uuid, or no CUDA: fall back to the ordinal
        return None


class Gpu:
    """One NVML device, opened for as long as a meter or a snapshot needs it."""

    def __init__(self, cuda_index: int) -> None:
        self.cuda_index = cuda_index
        _call("nvmlInit")
        try:
            self.nvml_index, self.mapping = self._find(cuda_index)
            self._handle = _call("nvmlDeviceGetHandleByIndex", self.nvml_index)
            self.name = _text(_call("nvmlDeviceGetName", self._handle))
        except BaseException:
            self.close()
            raise
        self._closed = False

    @staticmethod
    def _find(cuda_index: int) -> tuple[int, str]:
        count = _call("nvmlDeviceGetCount")
        uuid = _torch_cuda_uuid(cuda_index)
        if uuid is None:
            return Gpu._find_without_torch_uuid(cuda_index, count)
        wanted = _bare_uuid(uuid)
        for index in range(count):
            handle = _call("nvmlDeviceGetHandleByIndex", index)
            if _bare_uuid(_text(_call("nvmlDeviceGetUUID", handle))) == wanted:
                return index, f"matched by UUID {uuid}"
        raise NvmlError(
            f"cuda:{cuda_index} (UUID {uuid}) is not a whole GPU NVML can see (a MIG slice?): "
            "NVML cannot meter it"
        )

    @staticmethod
    def _find_without_torch_uuid(cuda_index: int, count: int) -> tuple[int, str]:
        """The NVML GPU that is ``cuda:N`` when torch gives no UUID, only where that is certain.

        CUDA numbers GPUs fastest first (unless CUDA_DEVICE_ORDER=PCI_BUS_ID) and only those in
        CUDA_VISIBLE_DEVICES; NVML numbers all of them in an order it does not promise. Taking one
        index for the other would put one GPU's name and energy on another's figures.
        """
        import os

        if cuda_index >= count:
            raise NvmlError(f"NVML sees {count} GPU(s); there is no GPU {cuda_index}")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        entries = None if visible is None else [e.strip() for e in visible.split(",") if e.strip()]
        if entries is not None and cuda_index < len(entries) and entries[cuda_index].lower().startswith("gpu-"):
            prefix = _bare_uuid(entries[cuda_index])  # CUDA takes any unique prefix of a UUID
            matches = [i for i in range(count)
                       if _bare_uuid(_text(_call("nvmlDeviceGetUUID", _call("nvmlDeviceGetHandleByIndex", i))))
                       .startswith(prefix)]
            if len(matches) == 1:
                return matches[0], f"matched by UUID {entries[cuda_index]} from CUDA_VISIBLE_DEVICES"
        elif count == 1 and cuda_index == 0 and (entries is None or entries[:1] == ["0"]):
            return 0, "the only GPU (torch gave no UUID)"
        shown = "unset" if visible is None else repr(visible)
        raise NvmlError(
            f"cannot tell which of NVML's {count} GPU(s) is cuda:{cuda_index}: torch gave no UUID and CUDA's "
            f"order need not be NVML's (CUDA_VISIBLE_DEVICES {shown}); list the GPUs by UUID "
            "(CUDA_VISIBLE_DEVICES=GPU-... from nvidia-smi -L)"
        )

    def energy_mj(self) -> int:
        """Total-energy counter in millijoules (Volta and newer); NvmlError NOT_SUPPORTED before."""
        return int(_call("nvmlDeviceGetTotalEnergyConsumption", self._handle))

    def power_watts(self) -> float:
        """nvmlDeviceGetPowerUsage: on Ampere and newer a one-second average, not an instant."""
        return _call("nvmlDeviceGetPowerUsage", self._handle) / 1000.0

    def power_instant_watts(self) -> float:
        """NVML_FI_DEV_POWER_INSTANT through nvmlDeviceGetFieldValues; NvmlError where unsupported."""
        value = _call("nvmlDeviceGetFieldValues", self._handle, [FI_DEV_POWER_INSTANT])[0]
        code = int(value.nvmlReturn)
        if code != 0:  # each field carries its own return code
            hint = _HINTS.get(code)
            raise NvmlError(f"NVML field NVML_FI_DEV_POWER_INSTANT returned error {code}"
                            + (f" ({hint})" if hint else ""), code)
        if int(value.valueType) != _VALUE_TYPE_UNSIGNED_INT:
            raise NvmlError(f"NVML field NVML_FI_DEV_POWER_INSTANT has value type {int(value.valueType)}, "
                            "not an unsigned int of mW")
        return int(value.value.uiVal) / 1000.0

    def power_reader(self) -> tuple[Callable[[], float], str]:
        """The best power reading this GPU offers and its name: instant power where the field is
        supported, else nvmlDeviceGetPowerUsage (with why)."""
        try:
            self.power_instant_watts()
        except NvmlError as exc:
            if exc.code == GPU_IS_LOST:
                raise
            return self.power_watts, f"nvmlDeviceGetPowerUsage (mW; instant power unavailable: {exc})"
        return self.power_instant_watts, "nvmlDeviceGetFieldValues NVML_FI_DEV_POWER_INSTANT (mW)"

    def violation_ns(self) -> dict[str, int] | None:
        """Accumulated violation time per policy (ns), None for a policy or GPU that lacks it."""
        times: dict[str, int] = {}
        for policy, name in _PERF_POLICIES.items():
            answer = _optional("nvmlDeviceGetViolationStatus", self._handle, policy)
            if answer is not None:
                times[name] = int(answer.violationTime)
        return times or None

    def throttle_reasons(self) -> list[str] | None:
        pynvml = _pynvml()
        # Renamed "clocks event reasons" in NVML 12.x; older bindings have only the old name.
        function = (
            "nvmlDeviceGetCurrentClocksEventReasons"
            if hasattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons")
            else "nvmlDeviceGetCurrentClocksThrottleReasons"
        )
        mask = _optional(function, self._handle)
        return None if mask is None else throttle_reason_names(int(mask))

    def mig_mode(self) -> str:
        modes = _optional("nvmlDeviceGetMigMode", self._handle)
        if modes is None:
            return "not supported"
        return "enabled" if modes[0] == 1 else "disabled"

    def state(self) -> dict[str, Any]:
        """What can change during a run: power limit, clocks, temperature, throttle reasons."""
        limit_mw = _optional("nvmlDeviceGetEnforcedPowerLimit", self._handle)
        return {
            "power_limit_w": None if limit_mw is None else limit_mw / 1000.0,
            "sm_clock_mhz": _optional("nvmlDeviceGetClockInfo", self._handle, _CLOCK_SM),
            "mem_clock_mhz": _optional("nvmlDeviceGetClockInfo", self._handle, _CLOCK_MEM),
            "temperature_c": _optional("nvmlDeviceGetTemperature", self._handle, _TEMPERATURE_GPU),
            "throttle_reasons": self.throttle_reasons(),
            "violation_ns": self.violation_ns(),
        }

    def snapshot(self) -> dict[str, Any]:
        cuda_version = _optional("nvmlSystemGetCudaDriverVersion")
        memory = _optional("nvmlDeviceGetMemoryInfo", self._handle)
        return {
            "name": self.name,
            "uuid": _text(_call("nvmlDeviceGetUUID", self._handle)),
            "nvml_index": self.nvml_index,
            "cuda_index": self.cuda_index,
            "index_mapping": self.mapping,
            "driver_version": _text(_call("nvmlSystemGetDriverVersion")),
            "cuda_driver_version": _cuda_version_text(cuda_version),
            **{k: v for k, v in self.state().items() if k != "violation_ns"},  # counters since boot: noise here
            "memory_total_bytes": None if memory is None else int(memory.total),
            "mig_mode": self.mig_mode(),
        }

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            _call("nvmlShutdown")
        except NvmlError:
            pass  # closing must not hide the error that led here


def open_gpu(cuda_index: int) -> Gpu:
    """Open ``cuda:N`` in NVML; NvmlError (a BenchError) says why not."""
    return Gpu(cuda_index)


def gpu_snapshot(index: int) -> dict[str, Any]:
    """Name, driver, power limit, clocks, temperature, throttle reasons, memory and MIG mode of ``cuda:index``.

    Raises BenchError when NVML is unavailable. Fields a GPU does not support are None.
    """
    gpu = open_gpu(index)
    try:
        return gpu.snapshot()
    finally:
        gpu.close()


def _cuda_version_text(version: int | None) -> str | None:
    # NVML gives e.g. 12020 for CUDA 12.2.
    return None if version is None else f"{version // 1000}.{version % 1000 // 10}"


def driver_versions() -> tuple[str, str | None]:
    """The NVIDIA driver's version and the CUDA version it supports (None where NVML cannot say)."""
    _call("nvmlInit")
    try:
        return _text(_call("nvmlSystemGetDriverVersion")), _cuda_version_text(_optional("nvmlSystemGetCudaDriverVersion"))
    finally:
        try:
            _call("nvmlShutdown")
        except NvmlError:
            pass


def gpu_count() -> int:
    """GPUs NVML sees (all of them, whatever CUDA_VISIBLE_DEVICES says)."""
    _call("nvmlInit")
    try:
        return int(_call("nvmlDeviceGetCount"))
    finally:
        try:
            _call("nvmlShutdown")
        except NvmlError:
            pass
