"""Measure the energy of your own code with the meters ``bench run`` uses, in the Zeus manner.

    from bench import measure

    with measure(device="cpu") as m:
        work()
    print(m.seconds, m.joules, m.watts, m.energy_kind, m.energy_source)

The device is synchronised before the start reading and before the end reading (``cuda:N``:
``torch.cuda.synchronize``), as every window of ``bench run`` is, so work queued on a GPU is
counted in the block it was queued in. The meter is the one ``bench run`` would pick (NVML,
RAPL, the CPU estimate), or ``watts=`` / ``watts_command=`` / ``cpu_tdp_watts=`` as the CLI's
``--watts`` / ``--watts-command`` / ``--cpu-tdp-watts``. An estimate stays labelled estimated.

``measure()`` opens a meter for one block and closes it after. ``Monitor`` keeps one meter open
for many blocks (in sequence or nested: each block is its own window over the meter's running
totals), which saves opening NVML or a sampler per block.

A block that raises: the meter is closed, the exception propagates, and the result says
``complete=False`` with no energy figure. A block shorter than the meter's ``min_window_s``:
``too_short=True`` and a ShortWindowWarning; ``joules`` is the meter's reading if it gave one,
else None with the reason in ``note`` (a counter that did not update is not 0 J).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from bench.devices import resolve_device
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.meters import Meter, select_meter

__all__ = ["Block", "MeasureResult", "Monitor", "ShortWindowWarning", "measure"]


class ShortWindowWarning(UserWarning):
    """A measured block was shorter than its meter's shortest trustworthy window."""


@dataclass(frozen=True)
class MeasureResult:
    """What one block measured; frozen once the block has ended."""

    name: str
    device: str  # "cpu", "cuda:0"
    seconds: float  # wall time between the synchronised edges (perf_counter)
    joules: float | None  # None: no figure can be given (the block raised, the meter could not read it); see note
    meter_seconds: float | None  # the span the joules cover, on the meter's clock (NVML aligns it to counter updates)
    energy_kind: EnergyKind
    energy_source: str  # e.g. "measured: RAPL powercap counters (package-0)"
    meter: str  # e.g. "rapl", "nvml-energy", "estimated-cpu", "user-watts"
    min_window_s: float  # the meter's shortest trustworthy window
    too_short: bool  # seconds < min_window_s: a figure, if any, carries a large error
    complete: bool  # False when the block or the final synchronize raised
    note: str | None = None  # one line: why joules is missing, or what is wrong with it
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)  # the meter's window details

    def __post_init__(self) -> None:
        # Frozen all the way down: the meter's details cannot be edited after the fact either.
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def watts(self) -> float | None:
        if self.joules is None or not self.meter_seconds or self.meter_seconds <= 0:
            return None
        return self.joules / self.meter_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "device": self.device, "seconds": self.seconds, "joules": self.joules,
            "watts": self.watts, "meter_seconds": self.meter_seconds, "energy_kind": str(self.energy_kind),
            "energy_source": self.energy_source, "meter": self.meter, "min_window_s": self.min_window_s,
            "too_short": self.too_short, "complete": self.complete, "note": self.note, "details": dict(self.details),
        }


def _api_words(message: str) -> str:
    """The meters speak CLI flags; here the same choices are keyword arguments."""
    for flag, keyword in (("--watts-command", "watts_command="), ("--cpu-tdp-watts", "cpu_tdp_watts="),
                          ("--watts", "watts=")):
        message = message.replace(flag, keyword)
    return message


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _resolve(device: Any) -> Any:
    if isinstance(device, str):
        return resolve_device(device)
    if not all(hasattr(device, a) for a in ("kind", "torch_device", "synchronize")):
        raise BenchError(f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a bench.devices.Device, got {device!r}")
    return device


class Monitor:
    """One meter on one device, open until ``close()``; ``measure()`` gives a block over it."""

    def __init__(
        self,
        device: Any = "cpu",
        *,
        watts: float | None = None,
        watts_command: str | None = None,
        cpu_tdp_watts: float | None = None,
        meter: Meter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.device = _resolve(device)
        if meter is not None and (watts, watts_command, cpu_tdp_watts) != (None, None, None):
            raise BenchError("meter= and watts=/watts_command=/cpu_tdp_watts= both given: choose one source of energy")
        if meter is None:
            try:
                meter = select_meter(self.device, cpu_tdp_watts=cpu_tdp_watts, watts=watts, watts_command=watts_command)
            except BenchError as exc:
                raise BenchError(_api_words(str(exc))) from None
            self._owns_meter = True
        else:
            self._owns_meter = False  # a meter handed in is its owner's to close
        self.meter = meter
        self._clock = clock
        self._opened = 0  # blocks begun, so nested and repeated blocks get distinct window keys
        self._closed = False
        description = meter.describe()
        label = description.get("label") if isinstance(description, dict) else None
        self.energy_source: str = label or f"{meter.kind}: {meter.name}"
        kind = EnergyKind.parse(meter.kind)
        if kind is None:  # a meter handed in must say what its joules are, in the shared vocabulary
            kinds = ", ".join(k.value for k in EnergyKind)
            raise BenchError(f"meter {meter.name!r} has kind {meter.kind!r}: expected one of {kinds}")
        self.energy_kind = kind

    def measure(self, name: str = "block") -> "Block":
        if not isinstance(name, str) or not name:
            raise BenchError(f"measure name must be a non-empty string, got {name!r}")
        return Block(self, name, closes_monitor=False)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owns_meter:
                self.meter.close()

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _begin(self, name: str) -> tuple[str, float]:
        if self._closed:
            raise BenchError("this Monitor is closed: open a new one to measure more blocks")
        self._opened += 1
        key = f"api/{name}#{self._opened}"
        self.device.synchronize()  # work queued before the block is not the block's
        self.meter.begin(key)
        return key, self._clock()


class Block:
    """A ``with`` block measured once; after it ends, its figures read the frozen ``result``."""

    def __init__(self, monitor: Monitor, name: str, *, closes_monitor: bool) -> None:
        self._monitor, self.name, self._closes_monitor = monitor, name, closes_monitor
        self._key: str | None = None
        self._t0 = 0.0
        self._result: MeasureResult | None = None

    # -- figures, once the block has ended ---------------------------------------------------
    @property
    def result(self) -> MeasureResult:
        if self._result is None:
            state = "is still running" if self._key is not None else "has not run"
            raise BenchError(f"measure block {self.name!r} {state}: its figures exist once the with-block ends")
        return self._result

    seconds = property(lambda self: self.result.seconds)
    joules = property(lambda self: self.result.joules)
    watts = property(lambda self: self.result.watts)
    meter_seconds = property(lambda self: self.result.meter_seconds)
    too_short = property(lambda self: self.result.too_short)
    complete = property(lambda self: self.result.complete)
    note = property(lambda self: self.result.note)
    # Where the joules come from is known before the block runs.
    energy_kind = property(lambda self: self._monitor.energy_kind)
    energy_source = property(lambda self: self._monitor.energy_source)

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict()

    def __repr__(self) -> str:
        if self._result is None:
            return f"<measure block {self.name!r} on {self._monitor.device.torch_device}: not ended>"
        r = self._result
        joules = "no figure" if r.joules is None else f"{r.joules:.6g} J"
        return f"<measure block {self.name!r} on {r.device}: {r.seconds:.6g} s, {joules} ({r.energy_kind})>"

    # -- the window --------------------------------------------------------------------------
    def __enter__(self) -> "Block":
        if self._key is not None:
            raise BenchError(f"measure block {self.name!r} has already run: call measure() again for another window")
        try:
            self._key, self._t0 = self._monitor._begin(self.name)
        except BaseException:
            if self._closes_monitor:
                self._monitor.close()
            raise
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            self._finish(exc)
        finally:
            if self._closes_monitor:
                self._monitor.close()
        return False  # the block's own exception, if any, propagates

    def _finish(self, exc: BaseException | None) -> None:
        monitor, meter = self._monitor, self._monitor.meter
        if exc is None:
            try:
                monitor.device.synchronize()  # the GPU work the block queued belongs in its window
            except BaseException as sync_error:
                self._abandon(monitor._clock() - self._t0, f"final synchronize raised {_one_line(sync_error)}")
                raise
        seconds = monitor._clock() - self._t0
        if exc is not None:
            self._abandon(seconds, f"the block raised {_one_line(exc)}; no energy figure for an unfinished block")
            return
        too_short = seconds < meter.min_window_s
        note = None
        try:
            reading = meter.end(self._key)
        except BenchError as why:
            if not too_short:
                self._abandon(seconds, _one_line(why), ended=True)
                raise  # a window long enough that the meter still cannot read it: a fault, said in one line
            reading, note = None, str(why)
        joules = reading.joules if reading is not None else None
        if too_short and joules == 0:
            # Too short for the counter to move: unknown, not zero.
            joules = None
            note = f"{meter.name} read 0 J over {seconds:.3g} s, shorter than its {meter.min_window_s:g} s minimum"
        if too_short:
            note = note or (f"{seconds:.3g} s is shorter than {meter.name}'s {meter.min_window_s:g} s minimum: "
                            "the figure's error is large")
            warnings.warn(ShortWindowWarning(f"measure block {self.name!r}: {note}"), stacklevel=3)
        self._result = self._make(
            seconds, joules, reading.seconds if reading is not None else None, too_short=too_short, complete=True,
            note=note, details=reading.details if reading is not None else {},
        )

    def _abandon(self, seconds: float, note: str, *, ended: bool = False) -> None:
        """Close the window without a figure (a Monitor's meter stays usable for the next block)."""
        if not ended:
            with contextlib.suppress(Exception):  # never mask the block's own exception
                self._monitor.meter.end(self._key)
        too_short = seconds < self._monitor.meter.min_window_s
        self._result = self._make(seconds, None, None, too_short=too_short, complete=False, note=note, details={})

    def _make(self, seconds: float, joules: float | None, meter_seconds: float | None, *, too_short: bool,
              complete: bool, note: str | None, details: Mapping[str, Any]) -> MeasureResult:
        monitor = self._monitor
        return MeasureResult(
            name=self.name, device=monitor.device.torch_device, seconds=seconds, joules=joules,
            meter_seconds=meter_seconds, energy_kind=monitor.energy_kind, energy_source=monitor.energy_source,
            meter=monitor.meter.name, min_window_s=monitor.meter.min_window_s, too_short=too_short,
            complete=complete, note=note, details=details,
        )


def measure(
    device: Any = "cpu",
    *,
    name: str = "block",
    watts: float | None = None,
    watts_command: str | None = None,
    cpu_tdp_watts: float | None = None,
    meter: Meter | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Block:
    """A block measured on its own meter, opened now and closed when the block ends.

    ``device``: "cpu", "cuda", "cuda:N", "auto" or a Device. ``watts``, ``watts_command``,
    ``cpu_tdp_watts``: as ``bench run``'s --watts, --watts-command, --cpu-tdp-watts. ``meter``: any
    object with the meter interface (bench/meters/base.py), left open for its owner to close.
    Bad input raises BenchError with one line.
    """
    monitor = Monitor(device, watts=watts, watts_command=watts_command, cpu_tdp_watts=cpu_tdp_watts,
                      meter=meter, clock=clock)
    if not isinstance(name, str) or not name:
        monitor.close()
        raise BenchError(f"measure name must be a non-empty string, got {name!r}")
    return Block(monitor, name, closes_monitor=True)
