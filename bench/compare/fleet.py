"""Fleets: the result files of one launch (every rank of a torchrun or srun start, bench/launcher.py)
merged into a fleet row, and per-node rows when the fleet spans nodes, beside single devices.

A rank's file carries a ``rank`` object (rank, world size, node, ``fleet_id`` shared by the
launch). Rank files are not pooled as runs of one device (``merge_devices``): each rank is a
device of its own working at the same time, so per workload

  rate_per_s  = sum of the ranks' headline rates
  watts       = per node: the node meter's reading once (``meter.scope == "node"``, read by the
                node's lowest rank, covering every rank there), else the sum of the ranks' own
                meters (NVML, a process's CPU estimate); then summed over nodes
  per_joule   = rate_per_s / watts, the work per joule of the whole
  spread      = over the ranks (n = ranks) of rate / the rank's part of those watts (a node
                reading split evenly over its ranks), and of their rates (``to_json``)

Each phase's rate and watts (economics prices a request's prefill and decode) and the idle
baseline are counted the same way. A rank of the launch without a file, or whose workload failed, makes the row partial and is
named in its notes; the sums then cover the ranks that ran. Pure: parsed results in, rows out.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from bench.compare.merge import DeviceRuns, Loaded, PhaseRate, WorkloadFigure, _headline, _provenance
from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.stats import spread

FLEET = "fleet"
NODE = "node"


@dataclass(frozen=True, kw_only=True)  # after DeviceRuns' defaulted fields
class FleetRuns(DeviceRuns):
    """A fleet (or one node of it) as one row: DeviceRuns whose figures are the ranks' sums."""

    fleet_id: str
    ranks: int  # ranks the row covers: the launch's world size, or those of one node
    present: tuple[int, ...]  # ranks with a file
    missing: Mapping[str, str]  # "rank R" -> why it adds nothing (no file, failed workload)
    nodes: tuple[str, ...]
    device_kind: str  # the ranks' devices: "cpu" or "cuda"
    device_name: str
    contributing: Mapping[str, int]  # workload -> ranks whose figures are summed
    per_rank: Mapping[str, Mapping[str, Any]]  # workload -> rank -> its rate, watts, per joule

    def summary(self) -> dict[str, Any]:
        return {
            "fleet_id": self.fleet_id, "ranks": self.ranks, "ranks_present": list(self.present),
            "missing": dict(self.missing), "nodes": list(self.nodes), "device_kind": self.device_kind,
            "device": self.device_name, "partial": self.partial,
            "workloads": {
                name: {
                    "ranks_summed": self.contributing[name],
                    "rate_per_s_over_ranks": spread([r["rate_per_s"] for r in ranks.values()]).to_dict(),
                    "per_joule_over_ranks": spread([r["per_joule"] for r in ranks.values()]).to_dict(),
                    "by_rank": dict(ranks),
                }
                for name, ranks in self.per_rank.items()
            },
        }


@dataclass(frozen=True)
class _RankFile:
    item: Loaded
    rank: int
    node: str
    world_size: int
    fleet_id: str
    node_ranks: tuple[int, ...]

    @property
    def result(self) -> Any:
        return self.item.result

    @property
    def reads_node(self) -> bool:
        return self.result.meter.details.get("scope") == "node"

    @property
    def node_meter(self) -> Mapping[str, Any] | None:
        """The node meter another rank read for this one's node, if any."""
        value = self.result.meter.details.get("node_meter")
        return value if isinstance(value, Mapping) else None


def _rank_file(item: Loaded) -> _RankFile | None:
    rank = item.result.details.get("rank")
    if not isinstance(rank, Mapping):
        return None
    try:
        world, number = int(rank["world_size"]), int(rank["rank"])
        fleet_id, node = str(rank["fleet_id"]), str(rank["node"])
        node_ranks = tuple(int(r) for r in rank.get("node_ranks") or (number,))
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{item.path}: its 'rank' object is damaged ({exc})") from None
    if world < 2:
        return None  # a launch of one rank is a run like any other
    if not 0 <= number < world:
        raise BenchError(f"{item.path}: rank {number} of a world of {world}")
    return _RankFile(item, number, node, world, fleet_id, node_ranks)


def split(loaded: Sequence[Loaded]) -> tuple[list[Loaded], list[_RankFile]]:
    """(files of single runs, rank files of launches)."""
    singles, ranks = [], []
    for item in loaded:
        rank_file = _rank_file(item)
        (singles if rank_file is None else ranks).append(item if rank_file is None else rank_file)
    return singles, ranks


def merge_fleets(files: Sequence[_RankFile]) -> list[FleetRuns]:
    """A fleet row per launch, and a row per node when a launch spans several nodes."""
    launches: dict[str, list[_RankFile]] = {}
    for f in files:
        launches.setdefault(f.fleet_id, []).append(f)
    out: list[FleetRuns] = []
    for fleet_id, members in launches.items():
        seen: dict[int, str] = {}
        for f in members:
            if f.rank in seen:
                raise BenchError(f"{f.item.path}: rank {f.rank} of fleet {fleet_id[:8]} again (also {seen[f.rank]})")
            seen[f.rank] = f.item.path
        world = members[0].world_size
        nodes = sorted({f.node for f in members})
        if len(nodes) > 1:
            for node in nodes:
                here = [f for f in members if f.node == node]
                expected = sorted({r for f in here for r in f.node_ranks})
                out.append(_row(fleet_id, here, expected, NODE, node))
        out.append(_row(fleet_id, members, list(range(world)), FLEET, None))
    return out


def _row(fleet_id: str, files: list[_RankFile], expected: list[int], kind: str, node: str | None) -> FleetRuns:
    by_rank = {f.rank: f for f in files}
    missing: dict[str, str] = {
        f"rank {r}": "no result file (not given, or the rank died before its first save)"
        for r in expected if r not in by_rank
    }
    lost_notes = {}
    for f in files:
        sync = f.result.details["rank"].get("sync")
        lost = sync.get("lost") if isinstance(sync, Mapping) else None
        if isinstance(lost, Mapping):  # it went on alone from there: its later phases ran unsynchronised
            lost_notes[f"rank {f.rank} lost the other ranks"] = f"at '{lost.get('at')}' ({lost.get('error')})"
    figures: dict[str, WorkloadFigure] = {}
    not_run: dict[str, str] = {}
    per_rank: dict[str, dict[str, Any]] = {}
    contributing: dict[str, int] = {}
    names = list(dict.fromkeys(w.name for f in files for w in f.result.workloads))
    for name in names:
        ok = []
        for f in sorted(files, key=lambda f: f.rank):
            entry = f.result.workload(name)
            if entry is not None and entry.ok:
                ok.append((f, entry))
            elif entry is not None:
                missing.setdefault(f"rank {f.rank}", f"{name} {entry.status}: {entry.error or 'no error recorded'}")
            else:
                missing.setdefault(f"rank {f.rank}", f"{name} not run ({f.result.partial_reason or f.result.status})")
        if not ok:
            not_run[name] = "no rank finished it"
            continue
        figures[name], per_rank[name] = _sum(name, ok, expected)
        contributing[name] = len(ok)
    not_run.update(missing)  # the row's notes name every rank that adds nothing
    not_run.update(lost_notes)
    device_names = Counter(f"{f.result.device.name} ({f.result.device.kind})" for f in files)
    device_kinds = {str(f.result.device.kind) for f in files}
    what = ", ".join(f"{n} x {name}" for name, n in device_names.items())
    short = fleet_id[:8]
    label = f"fleet {short}: {what}" if kind == FLEET else f"node {node} of fleet {short}: {what}"
    return FleetRuns(
        slug=f"fleet-{short}" + (f"-{slugify(node)}" if node else ""),
        name=label,
        kind=kind,
        hosts=tuple(sorted({f.node for f in files})),
        paths=tuple(f.item.path for f in sorted(files, key=lambda f: f.rank)),
        figures=figures,
        not_run=not_run,
        partial=bool(missing) or any(f.result.status != "complete" for f in files),
        fleet_id=fleet_id,
        ranks=len(expected),
        present=tuple(sorted(by_rank)),
        missing=missing,
        nodes=tuple(sorted({f.node for f in files})),
        device_kind=device_kinds.pop() if len(device_kinds) == 1 else "mixed",
        device_name=files[0].result.device.name or "unknown",
        contributing=contributing,
        per_rank=per_rank,
        idle_watts=_idle_watts(files),
    )


def _sum(name: str, ok: list[tuple[_RankFile, Any]], expected: list[int]) -> tuple[WorkloadFigure, dict[str, Any]]:
    first_file, first = ok[0]
    provenance = _provenance(first_file.result, first)
    figures_of = {f.rank: _headline(entry)[1] for f, entry in ok}
    for f, entry in ok[1:]:
        reasons = provenance.differences(_provenance(f.result, entry))
        if reasons:
            raise BenchError(f"cannot sum {first_file.item.path} and {f.item.path} (ranks of one fleet, "
                             f"workload {name!r}): " + "; ".join(reasons))
    rate = sum(fig.rate_per_s for fig in figures_of.values())
    counted, allotted = _counted([f for f, _ in ok], lambda f: _reading(f, figures_of[f.rank]))
    watts = sum(w for w, _, _ in counted)
    kinds = {k for _, k, _ in counted}
    kind = EnergyKind.ESTIMATED if EnergyKind.ESTIMATED in kinds else kinds.pop() if len(kinds) == 1 else EnergyKind.ESTIMATED
    sources = sorted({s for _, _, s in counted})
    present = [f.rank for f, _ in ok]
    source = (f"sum over ranks {_ranks_text(present)} of {len(expected)}: " + "; ".join(sources))
    # A rank's work per joule is its rate over its part of the counted watts (a node meter's
    # reading split evenly over the node's ranks), so the whole's figure, their watts-weighted
    # mean, lies within their spread.
    by_rank = {
        str(f.rank): {"rate_per_s": figures_of[f.rank].rate_per_s, "watts": allotted[f.rank],
                      "per_joule": figures_of[f.rank].rate_per_s / allotted[f.rank], "node": f.node,
                      "own_file_watts": figures_of[f.rank].draw_watts,
                      "meter_scope": "node" if f.reads_node else "device"}
        for f, _ in ok
    }
    per_joule_over_ranks = spread([r["per_joule"] for r in by_rank.values()])
    figure = WorkloadFigure(
        workload=name, phase=_headline(first)[0], unit=figures_of[first_file.rank].unit,
        per_joule=rate / watts, per_joule_spread=per_joule_over_ranks, rate_per_s=rate, watts=watts,
        energy_kind=kind, energy_source=source, provenance=provenance, config=first.config,
        phases=_phases(ok),
    )
    return figure, by_rank


def _counted(files: Sequence[_RankFile], reading: Callable[[_RankFile], tuple[float, EnergyKind, str]],
             ) -> tuple[list[tuple[float, EnergyKind, str]], dict[int, float]]:
    """The (watts, kind, source) readings counted once each, per node: a node meter's reading
    where the node's reader is among ``files`` (it covered every rank of the node), else each
    rank's own; and each rank's part of them."""
    counted: list[tuple[float, EnergyKind, str]] = []
    allotted: dict[int, float] = {}
    for node in sorted({f.node for f in files}):
        here = [f for f in files if f.node == node]
        readers = [f for f in here if f.reads_node]
        if readers:
            counted.append(reading(readers[0]))
            allotted.update({f.rank: counted[-1][0] / len(here) for f in here})
        else:
            for f in here:
                counted.append(reading(f))
                allotted[f.rank] = counted[-1][0]
    return counted, allotted


def _phases(ok: list[tuple[_RankFile, Any]]) -> dict[str, PhaseRate]:
    """Every phase all these ranks measured: rates summed, watts counted as the headline's are
    (economics prices a request's prefill and decode from them)."""
    out: dict[str, PhaseRate] = {}
    for phase in ok[0][1].phases:
        of = {f.rank: entry.phase(phase.name) for f, entry in ok}
        if any(p is None for p in of.values()):
            continue
        counted, _ = _counted([f for f, _ in ok], lambda f: _reading(f, of[f.rank].figures))
        out[phase.name] = PhaseRate(rate_per_s=sum(p.figures.rate_per_s for p in of.values()),
                                    watts=sum(w for w, _, _ in counted))
    return out


def _idle_watts(files: Sequence[_RankFile]) -> float | None:
    """The row's idle draw, counted as its work's watts are; None where a counted file has none."""
    def reading(f: _RankFile) -> tuple[float, EnergyKind, str]:
        idle = f.result.idle
        return (idle.watts if idle is not None and idle.watts is not None else float("nan")), EnergyKind.MEASURED, ""

    counted, _ = _counted(files, reading)
    total = sum(w for w, _, _ in counted)
    return None if total != total else total  # NaN: some idle baseline missing


def _reading(f: _RankFile, figures: Any) -> tuple[float, EnergyKind, str]:
    kind = EnergyKind.parse(figures.energy_kind) or EnergyKind.ESTIMATED
    return figures.draw_watts, kind, f"rank {f.rank}: {figures.energy_source}"


def _ranks_text(ranks: Sequence[int]) -> str:
    return ", ".join(map(str, ranks))


# -- economics and output ----------------------------------------------------------------------

# Money and rates of an economics row that grow with the ranks; per kWh, per watt and per joule
# figures, break-even prices and payback do not.
_SCALED = ("watts", "revenue_usd_per_day", "electricity_usd_per_day", "profit_usd_per_day", "hashes_per_s",
           "tokens_per_s", "card_usd", "idle_watts", "hosting_usd_per_day", "kwh_per_day")


def economics_rows(device: DeviceRuns, scenario: Any, *, card_usd: float | None = None) -> list[Any]:
    """Economics rows of a device, a fleet's included: priced as its average rank (so GPU rental,
    which is per device, and rates per device kind apply), then scaled by the ranks summed.
    A fleet's ``card_usd`` is the price of all its cards."""
    from bench.economics import rows_for_device

    if not isinstance(device, FleetRuns):
        return rows_for_device(device, scenario, card_usd=card_usd)
    rows = []
    for name, figure in device.figures.items():
        n = device.contributing[name]
        one = replace(figure, rate_per_s=figure.rate_per_s / n, watts=figure.watts / n,
                      phases={k: PhaseRate(p.rate_per_s / n, p.watts / n) for k, p in figure.phases.items()})
        idle = device.idle_watts / len(device.present) if device.idle_watts is not None else None  # ranks idle alike
        view = DeviceRuns(device.device_name, device.device_name, device.device_kind, device.hosts, device.paths,
                          {name: one}, {}, device.partial, idle_watts=idle)
        for row in rows_for_device(view, scenario, card_usd=card_usd / n if card_usd else None):
            if row.workload != name:
                continue
            scaled = {k: getattr(row, k) * n for k in _SCALED if getattr(row, k) is not None}
            rows.append(replace(row, name=row.name.replace(device.device_name, device.name, 1), device=device.name,
                                notes=(*row.notes, f"{n} ranks' sum, priced as {n} x its average rank"), **scaled))
    _pair(rows, scenario)
    return rows


def _pair(rows: list[Any], scenario: Any) -> None:
    """Mining against decode of the fleet, for the flip price, as a device's rows are paired."""
    from bench.economics import pair

    by = {r.workload: i for i, r in enumerate(rows)}
    if "mine" in by and "infer" in by:
        rows[by["mine"]], rows[by["infer"]] = pair(rows[by["mine"]], rows[by["infer"]], scenario)


def to_json(comparison: Any, devices: Sequence[DeviceRuns]) -> str:
    """The comparison's JSON, its fleet and node rows with ``ranks`` and a ``fleet`` summary."""
    from bench.storage import clean_floats

    fleets = {d.slug: d for d in devices if isinstance(d, FleetRuns)}
    document = comparison.to_dict()
    for row in document["rows"]:
        fleet = fleets.get(row["slug"])
        if fleet is not None:
            row["ranks"] = fleet.ranks
            row["partial"] = fleet.partial
            row["fleet"] = fleet.summary()
    return json.dumps(clean_floats(document), indent=2, allow_nan=False)
