"""Files of one device become one DeviceRuns: their windows pooled, their provenance checked.

Files that ran different code, another preset, other settings or another kind of energy figure
(measured vs estimated) are never averaged together: they stay separate rows of that device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from bench import workloads
from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.result_model import Figures, Result, Workload
from bench.stats import Spread, spread
from bench.units import si


@dataclass(frozen=True)
class Loaded:
    """One result file as read: its path (for messages) and its parsed result."""

    path: str
    result: Result


@dataclass(frozen=True)
class Provenance:
    """What must match for two figures of one workload to be compared."""

    preset: Any
    source_sha256: Any
    work: tuple[tuple[str, str], ...]  # work-defining config items, values as JSON text

    def differences(self, other: "Provenance") -> list[str]:
        """Human reasons why ``self`` and ``other`` differ; empty when they match."""
        reasons = []
        if self.preset != other.preset:
            reasons.append(f"preset {self.preset} vs {other.preset}")
        if self.source_sha256 != other.source_sha256:
            reasons.append(
                f"different workload code (source {_short(self.source_sha256)} vs {_short(other.source_sha256)})"
            )
        mine, theirs = dict(self.work), dict(other.work)
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                a, b = _shown(mine.get(key)), _shown(theirs.get(key))
                reasons.append(f"{key} {a} vs {b}" if a != b else f"{key} settings differ")
        return reasons


def _shown(json_text: str | None) -> str:
    """A config value for a message: a model's name rather than its whole shape."""
    if json_text is None:
        return "unset"
    value = json.loads(json_text)
    if isinstance(value, dict) and "name" in value:
        return json.dumps(value["name"])
    return json_text if len(json_text) <= 60 else json_text[:57] + "..."


@dataclass(frozen=True)
class WorkloadFigure:
    """One workload's headline figures on one device, merged over that device's files."""

    workload: str
    phase: str
    unit: str  # work unit, "hashes" or "tokens"
    per_joule: float  # median over all windows of all files
    per_joule_spread: Spread
    rate_per_s: float
    watts: float
    energy_kind: EnergyKind
    energy_source: str  # e.g. "measured: nvml energy counter"
    provenance: Provenance
    config: Mapping[str, Any]
    # every phase's pooled median rate and draw, the headline's included (infer's prefill prices
    # the prompt tokens a request brings)
    phases: Mapping[str, PhaseRate] = field(default_factory=dict)

    @property
    def windows(self) -> int:
        return self.per_joule_spread.n


@dataclass(frozen=True)
class PhaseRate:
    rate_per_s: float
    watts: float


@dataclass(frozen=True)
class DeviceRuns:
    """All files of one device, merged."""

    slug: str
    name: str
    kind: str  # "cpu" | "cuda" | "asic"
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    figures: dict[str, WorkloadFigure]  # by workload name
    not_run: dict[str, str]  # workload -> why it has no figure ("failed: ...", "skipped")
    partial: bool  # some file stopped before all its workloads ran
    idle_watts: float | None = None  # median idle baseline of its files; None where none was measured
    preset: str | None = None
    newest_utc: str | None = None  # when its newest file was written
    note: str = ""  # why these files stand apart from the device's other files

    @property
    def label(self) -> str:
        return self.name


def merge_devices(loaded: Sequence[Loaded]) -> list[DeviceRuns]:
    """Group result files by device and merge each group's files that measured the same thing.

    Files of one device that cannot be merged (other code, preset, settings or energy kind) stay
    separate rows, newest first, each labelled with its date and preset and the reason it stands
    apart; ranking then marks the ones of other code or presets not comparable.
    """
    if not loaded:
        raise BenchError("no result files given")
    _refuse_duplicates(loaded)
    groups: dict[str, list[Loaded]] = {}
    for item in loaded:
        groups.setdefault(_device_slug(item), []).append(item)
    out: list[DeviceRuns] = []
    for slug, items in groups.items():
        clusters = sorted(_mergeable_clusters(items), reverse=True,
                          key=lambda c: max(i.result.created_utc or "" for i in c))  # newest first
        if len(clusters) == 1:
            out.append(_merge_device(slug, clusters[0]))
            continue
        for cluster, why in _clusters_with_reasons(clusters):
            first = cluster[0].result
            when = (first.created_utc or "undated")[:16].replace("T", " ")
            out.append(_merge_device(
                f"{slug}@{when.replace(' ', 'T').replace(':', '')}", cluster,
                label=f"{first.device.name or slug} ({when}, {first.protocol.preset})",
                note=f"not merged with the other runs of this device: {why}",
            ))
    return out


def _mergeable_clusters(items: list[Loaded]) -> list[list[Loaded]]:
    """Files in groups that merge: each joins the first group it agrees with on every workload."""
    clusters: list[list[Loaded]] = []
    for item in items:
        home = next((c for c in clusters if not _disagreements(c[0], item)), None)
        if home is None:
            clusters.append([item])
        else:
            home.append(item)
    return clusters


def _clusters_with_reasons(clusters: list[list[Loaded]]) -> list[tuple[list[Loaded], str]]:
    """Each group with why it differs from the newest group (clusters come newest first)."""
    newest = clusters[0][0]
    out = []
    for cluster in clusters:
        reasons = _disagreements(cluster[0], newest) if cluster is not clusters[0] else []
        out.append((cluster, "; ".join(reasons) or "the newest of its kind"))
    return out


def _disagreements(a: Loaded, b: Loaded) -> list[str]:
    """Why two files of one device cannot be merged, per workload both finished; empty when they can."""
    reasons: list[str] = []
    for entry in a.result.workloads:
        other = b.result.workload(entry.name)
        if not entry.ok or other is None or not other.ok:
            continue
        found = _provenance(a.result, entry).differences(_provenance(b.result, other))
        if dict(entry.config) != dict(other.config):
            found.append("settings differ (" + _config_difference(entry.config, other.config) + ")")
        kind, other_kind = _headline(entry)[1].energy_kind, _headline(other)[1].energy_kind
        if kind != other_kind:
            found.append(f"energy {kind} vs {other_kind}")
        reasons += [f"{entry.name}: {r}" for r in found]
    preset, other_preset = a.result.protocol.preset, b.result.protocol.preset
    if preset != other_preset and not any("preset" in r for r in reasons):
        reasons.append(f"preset {preset} vs {other_preset}")
    return reasons


def _device_slug(item: Loaded) -> str:
    device = item.result.device
    if device.slug:
        return device.slug
    return slugify(f"{device.kind or 'device'}-{device.name or 'unknown'}")


def _refuse_duplicates(loaded: Sequence[Loaded]) -> None:
    # The same run given twice would count its windows twice and shrink the spread.
    seen: dict[tuple[Any, ...], str] = {}
    for item in loaded:
        result = item.result
        key = (result.created_utc, result.machine.hostname, _device_slug(item))
        if key[0] is not None and key in seen:
            raise BenchError(f"{item.path}: the same run as {seen[key]} (given twice)")
        seen[key] = item.path


def _merge_device(slug: str, items: list[Loaded], *, label: str | None = None, note: str = "") -> DeviceRuns:
    figures: dict[str, WorkloadFigure] = {}
    not_run: dict[str, str] = {}
    names = list(dict.fromkeys(w.name for item in items for w in item.result.workloads))
    for name in names:
        entries = [(item, item.result.workload(name)) for item in items]
        ok = [(item, entry) for item, entry in entries if entry is not None and entry.ok]
        without_energy = [entry for _, entry in ok if not _headline(entry)[1].has_energy]
        if without_energy:
            # a rate with no joules (a miner whose firmware reports no power) ranks and prices
            # nothing per joule: the row says what was measured and why there is no figure
            _, rates, _ = _pooled([_headline(entry)[1:] for _, entry in ok])
            figures_of = _headline(without_energy[0])[1]
            not_run[name] = (f"no energy figure ({figures_of.energy_source}); "
                             f"{si(spread(rates).median)}{figures_of.unit}/s measured")
        elif ok:
            figures[name] = _merge_workload(name, ok)
        else:
            not_run[name] = _why_not_run([entry for _, entry in entries if entry is not None][0])
    device = items[0].result.device
    return DeviceRuns(
        slug=slug,
        name=label or device.name or slug,
        kind=device.kind or "unknown",
        hosts=tuple(sorted({i.result.machine.hostname or "?" for i in items})),
        paths=tuple(i.path for i in items),
        figures=figures,
        not_run=not_run,
        partial=any(i.result.status != "complete" for i in items),
        idle_watts=_median([i.result.idle.watts for i in items if i.result.idle and i.result.idle.watts is not None]),
        preset=items[0].result.protocol.preset,
        newest_utc=max((i.result.created_utc for i in items if i.result.created_utc), default=None),
        note=note,
    )


def _median(values: list[float]) -> float | None:
    return spread(values).median if values else None


def _why_not_run(entry: Workload) -> str:
    return f"{entry.status}: {entry.error}" if entry.error else entry.status


def _provenance(result: Result, entry: Workload) -> Provenance:
    work = tuple(
        (key, json.dumps(entry.config.get(key), sort_keys=True)) for key in _work_defining_config(entry.name)
    )
    return Provenance(preset=result.protocol.preset, source_sha256=entry.source_sha256, work=work)


def _work_defining_config(name: str) -> tuple[str, ...]:
    """Config keys that define what one unit of work is (bench/workloads KINDS); a kind this
    version does not know has none."""
    known = workloads.KINDS.get(name)
    return known.work_defining_config if known else ()


def _merge_workload(name: str, ok: list[tuple[Loaded, Workload]]) -> WorkloadFigure:
    first_item, first = ok[0]  # the files agree (merge_devices grouped them so)
    provenance = _provenance(first_item.result, first)
    first_figures = _headline(first)[1]
    per_joule, rates, watts = _pooled([_headline(entry)[1:] for _, entry in ok])
    sources = {_headline(entry)[1].energy_source for _, entry in ok}
    phases = {}
    for phase in first.phases:
        found = [(p.figures, p.windows) for _, entry in ok for p in entry.phases if p.name == phase.name]
        _, phase_rates, phase_watts = _pooled(found)
        phases[phase.name] = PhaseRate(spread(phase_rates).median, spread(phase_watts).median)
    return WorkloadFigure(
        workload=name,
        phase=_headline(first)[0],
        unit=first_figures.unit,
        per_joule=spread(per_joule).median,
        per_joule_spread=spread(per_joule),
        rate_per_s=spread(rates).median,
        watts=spread(watts).median,
        energy_kind=first_figures.energy_kind,
        energy_source="; ".join(sorted(sources)),
        provenance=provenance,
        config=first.config,
        phases=phases,
    )


def _pooled(items: list[tuple[Figures, tuple[Any, ...]]]) -> tuple[list[float], list[float], list[float]]:
    """Per-joule figures, rates and draws of every window of these phases; a phase without
    windows stands by its own medians, as one value (and gives no spread)."""
    per_joule: list[float] = []
    rates: list[float] = []
    watts: list[float] = []
    for figures, windows in items:
        if not windows:
            rates.append(figures.rate_per_s)
            if figures.has_energy:
                per_joule.append(figures.per_joule)
                watts.append(figures.draw_watts)
            continue
        rates += [w.rate_per_s for w in windows]
        per_joule += [w.per_joule for w in windows if w.joules is not None]
        watts += [w.watts for w in windows if w.joules is not None]
    return per_joule, rates, watts


def _headline(entry: Workload) -> tuple[str, Figures, tuple[Any, ...]]:
    """(phase name, figures, windows) of a finished workload's headline phase; a file without
    that phase stands by the figures its workload entry carries."""
    known = workloads.KINDS.get(entry.name)
    wanted = entry.headline_phase or (known.headline_phase if known else entry.name)
    phase = entry.phase(wanted)
    if phase is not None:
        return phase.name, phase.figures, phase.windows
    assert entry.figures is not None  # a finished workload carries its figures (result_model)
    return wanted, entry.figures, ()


def _config_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    shown = lambda c, k: _shown(json.dumps(c[k], sort_keys=True)) if k in c else "unset"  # noqa: E731
    return ", ".join(f"{k} {shown(a, k)} vs {shown(b, k)}" for k in keys)


def _short(sha: Any) -> str:
    return str(sha)[:8] if sha else "none"
