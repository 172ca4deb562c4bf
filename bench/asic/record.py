"""Polls of one miner turned into a result file of the ``bench run`` format, saved after every
window so an interrupt (or a crash) keeps every finished poll.

A window runs from one answered poll to the next. Its hash rate is the firmware's figure at the
window's end (a trailing average over the firmware's own window, 5 s to 1 min); its energy comes
from the power source: the firmware's figures at both ends (trapezoid), a ``--watts`` constant,
or a ``--watts-command`` meter read at both ends. Pure except for the file writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bench import storage
from bench.asic.fields import share_rate
from bench.asic.poll import Identity, Poll
from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.meters.base import Meter
from bench.runner import Protocol, new_document
from bench.stats import spread

PRESET = "asic"  # no bench run preset fits a poll of a running miner; its settings are in protocol


def device_slug(identity: Identity) -> str:
    """Make, model and MAC (the address where the firmware gives no MAC): two miners of one
    model are two devices, and one miner polled twice is one."""
    tag = (identity.mac or identity.address).replace(":", "").lower()
    return f"asic-{slugify(identity.name)}-{slugify(tag)}"


class ReportedPower:
    """The firmware's own power figure, integrated between polls: energy kind ``reported``."""

    kind = EnergyKind.REPORTED

    def __init__(self, identity: Identity, interval_s: float) -> None:
        self.field = identity.fields.power
        self.firmware = identity.fields.firmware
        self.label = (f"reported: {self.firmware} {self.field}; read every {interval_s:g} s, trapezoids between "
                      "polls; the firmware's figure, not a meter reading")

    def describe(self) -> dict[str, Any]:
        return {"name": "asic-firmware", "kind": str(self.kind), "label": self.label, "firmware": self.firmware,
                "field": self.field, "integration": "trapezoids between consecutive answered polls"}

    def unusable(self, poll: Poll) -> str | None:
        return None if poll.watts is not None else "the reply held no power figure"

    def start(self, poll: Poll) -> None:
        pass

    def window(self, first: Poll, last: Poll, key: str) -> tuple[float, float, dict[str, Any]]:
        seconds = last.t - first.t
        assert first.watts is not None and last.watts is not None  # unusable() kept such polls out
        joules = (first.watts + last.watts) / 2 * seconds
        return joules, seconds, {"watts_start": first.watts, "watts_end": last.watts}

    def close(self) -> None:
        pass


class MeterPower:
    """A bench meter (``--watts`` constant, ``--watts-command`` at the wall) over each window."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.kind = EnergyKind(meter.kind)
        self.label = getattr(meter, "label", f"{meter.kind}: {meter.name}")
        self._open: str | None = None

    def describe(self) -> dict[str, Any]:
        return self.meter.describe()

    def unusable(self, poll: Poll) -> str | None:
        return None

    def start(self, poll: Poll) -> None:
        self._begin(f"{poll.index}")

    def window(self, first: Poll, last: Poll, key: str) -> tuple[float, float, dict[str, Any]]:
        assert self._open is not None
        try:
            measurement = self.meter.end(self._open)
        finally:
            self._begin(key)
        return measurement.joules, measurement.seconds, measurement.details

    def _begin(self, key: str) -> None:
        self.meter.begin(key)
        self._open = key

    def close(self) -> None:
        self.meter.close()


class NoPower:
    """Nothing reports power and none was given: the hash rate is saved alone."""

    kind = None

    def __init__(self, identity: Identity) -> None:
        self.label = (f"none: {identity.fields.firmware} reports no power; give --watts W or --watts-command CMD "
                      "for energy figures")

    def describe(self) -> dict[str, Any]:
        return {"name": "none", "kind": None, "label": self.label}

    def unusable(self, poll: Poll) -> str | None:
        return None

    def start(self, poll: Poll) -> None:
        pass

    def window(self, first: Poll, last: Poll, key: str) -> None:
        return None

    def close(self) -> None:
        pass


class Recorder:
    """One miner's polls, windows and result file."""

    def __init__(
        self, identity: Identity, power: Any, path: Path, *, tool: dict, machine: dict, interval_s: float,
        seconds: float, polls_planned: int, poll_timeout_s: float, source_sha256: str, identify_s: float,
        pyasic_version: str, write: Callable[..., None] = storage.write_atomic,
    ) -> None:
        self.identity = identity
        self.power = power
        self.path = path
        self.interval_s = interval_s
        self.seconds = seconds
        self.polls_planned = polls_planned
        self.poll_timeout_s = poll_timeout_s
        self.source_sha256 = source_sha256
        self.identify_s = identify_s
        self.pyasic_version = pyasic_version
        self.tool, self.machine = tool, machine
        self._write = write
        self.first: Poll | None = None
        self.last: Poll | None = None
        self.answered = 0
        self.missed: list[dict[str, Any]] = []
        self.windows: list[dict[str, Any]] = []
        self.saved = False
        self.created_utc: str | None = None
        self.note: str | None = None  # a save that went elsewhere

    # -- polls ------------------------------------------------------------------------------
    def add(self, poll: Poll) -> None:
        """An answered poll: the end of a window (and the start of the next)."""
        why = poll.error or self.power.unusable(poll)
        if why:
            self.miss(poll.index, poll.utc, why)
            return
        self.answered += 1
        if self.last is None:
            self.first = self.last = poll
            self.power.start(poll)
            return
        try:
            energy = self.power.window(self.last, poll, f"{poll.index}")
        except BenchError as exc:  # a wall meter that did not move: the window has no energy figure
            self.miss(poll.index, poll.utc, f"power reading failed: {exc}")
            self.last = poll
            return
        self.windows.append(self._window(self.last, poll, energy))
        self.last = poll
        self.save("partial", "running")

    def miss(self, index: int, utc: str, why: str) -> None:
        self.missed.append({"poll": index, "utc": utc, "why": why})

    def _window(self, first: Poll, last: Poll, energy: tuple[float, float, dict[str, Any]] | None) -> dict[str, Any]:
        seconds = last.t - first.t
        assert last.hashrate_per_s is not None
        work = last.hashrate_per_s * seconds
        window: dict[str, Any] = {"steps": 1, "seconds": seconds, "work": work}
        details: dict[str, Any] = {"poll_start": first.index, "poll_end": last.index, "reported": last.figures()}
        if energy is None:
            window.update(joules=None, meter_seconds=seconds)
        else:
            joules, meter_seconds, energy_details = energy
            window.update(joules=joules, meter_seconds=meter_seconds)
            details.update(energy_details)
        window["meter_details"] = details
        window["rate_per_s"] = last.hashrate_per_s
        window["per_joule"] = work / window["joules"] if window["joules"] else None
        return window

    # -- the document -----------------------------------------------------------------------
    def device(self) -> dict[str, Any]:
        i = self.identity
        return {
            "kind": "asic", "index": None, "name": i.name, "slug": device_slug(i),
            "make": i.make, "model": i.model, "firmware": i.fields.firmware if i.firmware is None else i.firmware,
            "firmware_version": i.firmware_version, "api_version": i.api_version, "hostname": i.hostname,
            "mac": i.mac, "host": i.host, "address": i.address, "algorithm": i.algorithm,
            "expected_hashrate_per_s": i.expected_hashrate_per_s, "expected_hashboards": i.expected_hashboards,
            "expected_fans": i.expected_fans, "fields": i.fields.to_dict(),
            "pyasic": {"version": self.pyasic_version, "backend": i.backend, "backend_chain": i.backend_chain[:6]},
        }

    def document(self, status: str, reason: str | None) -> dict[str, Any]:
        protocol = Protocol(PRESET, warmup_s=0.0, window_s=self.interval_s, windows=self.polls_planned - 1, idle_s=0.0)
        document = new_document(tool=self.tool, machine=self.machine, device=self.device(), protocol=protocol,
                                meter=self.power.describe())
        if self.created_utc is None:
            self.created_utc = document["created_utc"]
        document["created_utc"] = self.created_utc
        document["protocol"].update(
            seconds=self.seconds, interval_s=self.interval_s, polls=self.polls_planned,
            poll_timeout_s=self.poll_timeout_s,
            window="from one answered poll to the next; hash rate as the firmware reported it at the window's end, "
                   "energy from the power source over the window",
            idle="none: a miner is not idled to measure it",
        )
        document["status"], document["partial_reason"] = status, reason
        document["workloads"] = [self._workload()] if self.windows else []
        return storage.clean_floats(document)

    def _workload(self) -> dict[str, Any]:
        windows = self.windows
        has_energy = self.power.kind is not None
        rates = spread([w["rate_per_s"] for w in windows])
        total_seconds = sum(w["seconds"] for w in windows)
        total_work = sum(w["work"] for w in windows)
        figures: dict[str, Any] = {
            "unit": "hashes", "rate_per_s": rates.median, "work": total_work, "seconds": total_seconds,
            "energy_source": self.power.label, "energy_kind": str(self.power.kind) if has_energy else None,
        }
        spreads: dict[str, Any] = {"rate_per_s": rates.to_dict()}
        if has_energy:
            per_joule = spread([w["work"] / w["joules"] for w in windows])
            watts = spread([w["joules"] / w["meter_seconds"] for w in windows])
            figures.update(per_joule=per_joule.median, watts=watts.median, joules=sum(w["joules"] for w in windows))
            spreads.update(per_joule=per_joule.to_dict(), watts=watts.to_dict())
        else:
            figures.update(per_joule=None, watts=None, joules=None)
        figures["spread"] = spreads
        shares = self._share_check(total_work / total_seconds)
        fields = self.identity.fields
        from_boards = sum(1 for w in windows if w["meter_details"]["reported"]["hashrate_from"] == "hashboards")
        phase = {
            "name": "hash", **figures, "warmup": {"seconds": 0.0, "steps": 0}, "throttled": [], "windows": windows,
            "derived": {
                "share_based_rate_per_s": shares.get("rate_per_s"),
                "joules_per_terahash": (1e12 / figures["per_joule"]) if figures["per_joule"] else None,
            },
        }
        return {
            "name": "mine", "status": "ok", "headline_phase": "hash", **figures,
            "source_sha256": self.source_sha256,
            "config": {
                "source": "the miner's own hash-rate figures, polled over its API through pyasic",
                "hash_unit": "one hash = one double SHA-256 of a block header, as the firmware counts them",
                "hashrate_field": fields.hashrate if from_boards < len(windows) else None,
                "boards_hashrate_field": fields.boards_hashrate if from_boards else None,
                "windows_from_hashboards": from_boards,
                "algorithm": self.identity.algorithm,
                "interval_s": self.interval_s, "seconds": self.seconds,
                "polls_planned": self.polls_planned, "polls_answered": self.answered,
                "polls_missed": self.missed,
            },
            "build": {"seconds": self.identify_s, "note": "identification through pyasic (make, model, firmware)"},
            "total": {"seconds": total_seconds, "joules": figures["joules"],
                      "note": "the windows only: a miner has no build or warm-up"},
            "check": shares,
            "phases": [phase],
        }

    def _share_check(self, reported_rate: float) -> dict[str, Any]:
        assert self.first is not None and self.last is not None
        out = {"method": "share-based rate: accepted share difficulty x 2**32 / seconds, first to last answered poll",
               "field": self.identity.fields.shares,
               **share_rate(self.first.shares, self.last.shares, self.last.t - self.first.t)}
        if out.get("rate_per_s") is not None and reported_rate > 0:
            out["ratio_to_reported"] = out["rate_per_s"] / reported_rate
        return out

    def save(self, status: str, reason: str | None) -> Path | None:
        """Write the file (created exclusively the first time); None while no window has finished."""
        if not self.windows:
            return None
        document = self.document(status, reason)
        try:
            self._write(self.path, document, exclusive=not self.saved)
        except OSError as exc:
            # A full or vanished disk after measuring: the polls go to the temp dir, and from
            # then on every save goes there (the command prints the note).
            rescue = storage.rescue_path(self.path)
            self.note = f"cannot write {self.path} ({exc.strerror or exc}); saved to {rescue} instead"
            self.path = rescue
            self._write(rescue, document)
        self.saved = True
        return self.path
