"""``bench asic``: ASIC miners measured over their own APIs, one result file per miner.

    bench asic HOST... [--seconds S] [--interval S] [--out DIR] [--format table|json]
               [--watts W | --watts-command CMD]

HOST: an address, a name, a range (10.0.0.1-10.0.0.20 or 10.0.0.1-20), a network (10.0.0.0/24)
or @FILE (hosts one a line, # comments). pyasic (imported here only, inside the command, so that
``bench run`` works where pyasic is not installed) identifies each miner and reads it; see
bench/asic/ for how polls become windows and where each figure comes from.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import click

from bench.errors import BenchError

FORMATS = ("table", "json")
positive_float = click.FloatRange(min=0.0, min_open=True)
# Polling faster than this measures the miner's API, not the miner; slower than a day is a typo.
MIN_INTERVAL_S, MAX_SECONDS = 0.5, 86400.0


@click.command()
@click.argument("hosts", nargs=-1, required=True)
@click.option("--seconds", type=positive_float, default=60.0, show_default=True,
              help="How long to poll each miner.")
@click.option("--interval", "interval_s", type=positive_float, default=5.0, show_default=True,
              help="Seconds between polls; each pair of polls is one window.")
@click.option("--out", "out_dir", type=click.Path(), default="results", show_default=True,
              help="Directory for result files (<machine>/<timestamp>_<miner>.json).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table: a summary on stdout; json: every result document (and every failure) as JSON.")
@click.option("--watts", type=positive_float,
              help="The miner's draw in watts, read off a wall meter (estimated energy); one host only.")
@click.option("--watts-command",
              help="A shell command printing the miner's draw in watts at the wall (measured energy); one host only.")
def asic(hosts: tuple[str, ...], seconds: float, interval_s: float, out_dir: str, output_format: str,
         watts: float | None, watts_command: str | None) -> int:
    """Poll ASIC miners' hash rate, power, temperatures and fans; write one result file per miner."""
    from bench.asic.hosts import expand_hosts

    names = expand_hosts(hosts)
    if interval_s < MIN_INTERVAL_S:
        raise BenchError(f"--interval {interval_s:g} s is shorter than {MIN_INTERVAL_S:g} s: a miner's API "
                         "updates its figures every few seconds")
    if seconds > MAX_SECONDS:
        raise BenchError(f"--seconds {seconds:g} is more than a day ({MAX_SECONDS:g} s)")
    if seconds < interval_s:
        raise BenchError(f"--seconds {seconds:g} is shorter than --interval {interval_s:g}: a window needs two polls")
    if watts is not None and watts_command is not None:
        raise BenchError("--watts and --watts-command both given: choose one source of power readings")
    if (watts is not None or watts_command is not None) and len(names) != 1:
        given = "--watts" if watts is not None else "--watts-command"
        raise BenchError(f"{given} is one miner's draw, but {len(names)} hosts were given: poll one host with it")
    if not out_dir.strip():
        raise BenchError("--out must name a folder, not an empty string")
    out = Path(out_dir)
    return _run(names, seconds, interval_s, out, output_format, watts, watts_command)


def _run(names: list[str], seconds: float, interval_s: float, out: Path, output_format: str,
         watts: float | None, watts_command: str | None) -> int:
    try:
        from bench.asic import poll as polling
        from bench.asic import survey
    except ImportError as exc:
        raise BenchError(f"bench asic needs pyasic ({exc}): pip install pyasic") from None
    from bench import fingerprint
    from bench.asic.record import MeterPower, Recorder, device_slug
    from bench.cli import _writable_dir
    from bench.meters.user import CommandPowerMeter, ConstantPowerMeter, run_watts_command
    from bench.runner import source_sha256
    from bench.storage import new_result_path

    machine_dir = _writable_dir(out / fingerprint.machine_name())  # checked before polling, not after
    user_power = None
    if watts is not None:
        ConstantPowerMeter(watts)  # refuses a figure out of physical sense before anything is polled

        def user_power() -> Any:
            return MeterPower(ConstantPowerMeter(watts))
    elif watts_command is not None:
        # Six samples a window at least: the meter wants five before it trusts a window.
        period_s = min(1.0, interval_s / 6)
        if not watts_command.strip():
            raise BenchError("--watts-command is empty: give a shell command that prints watts")
        run_watts_command(watts_command)  # a command that fails, fails before anything is polled

        def user_power() -> Any:
            return MeterPower(CommandPowerMeter(watts_command, period_s=period_s))

    tool, machine = fingerprint.tool_info(), fingerprint.machine_info()
    source = source_sha256(sorted(Path(polling.__file__).parent.glob("*.py")))
    planned = survey.poll_count(seconds, interval_s)

    def make_recorder(identity: Any, power: Any, identify_s: float) -> Any:
        path = new_result_path(out, machine_dir.name, device_slug(identity))
        return Recorder(identity, power, path, tool=tool, machine=machine, interval_s=interval_s, seconds=seconds,
                        polls_planned=planned, poll_timeout_s=survey.poll_timeout(interval_s),
                        source_sha256=source, identify_s=identify_s, pyasic_version=polling.PYASIC_VERSION)

    def say(line: str) -> None:
        click.echo(line, err=True)

    say(f"bench asic: {len(names)} host(s), a poll every {interval_s:g} s for {seconds:g} s ({planned} polls)")
    result = survey.run(names, seconds=seconds, interval_s=interval_s, user_power=user_power,
                        make_recorder=make_recorder, say=say)
    recorders = [o.recorder for o in result.outcomes if o.recorder is not None]
    try:
        saved = _finish(result, recorders)
    finally:
        for recorder in recorders:
            if recorder.power is not None:
                recorder.power.close()
    _print(result, saved, output_format)
    answered = [r for r in recorders if r.windows]
    if result.signum is not None:
        say(f"interrupted by {signal.Signals(result.signum).name}: {len(answered)} miner(s) saved with their "
            "finished polls (status partial)")
        return 128 + result.signum
    if not answered:
        raise BenchError("no miner answered: nothing saved")
    failed = len(result.outcomes) - len(answered)
    return 1 if failed else 0


def _finish(result: Any, recorders: list[Any]) -> dict[str, Path]:
    """Each file's final status; a miner with fewer than two answered polls has no window to save."""
    saved: dict[str, Path] = {}
    for recorder in recorders:
        host = recorder.identity.host
        if recorder.power is None or not recorder.windows:
            got = recorder.answered
            why = recorder.missed[-1]["why"] if recorder.missed else "interrupted"
            click.echo(f"{host}: {got} poll(s) answered, fewer than the two a window needs ({why}); nothing saved",
                       err=True)
            continue
        if result.signum is not None:
            status, reason = "partial", (f"interrupted by {signal.Signals(result.signum).name} after "
                                         f"{recorder.answered} of {recorder.polls_planned} polls")
        elif recorder.missed:
            status, reason = "partial", (f"{len(recorder.missed)} of {recorder.polls_planned} polls unanswered "
                                         f"(first: poll {recorder.missed[0]['poll']}, {recorder.missed[0]['why']})")
        else:
            status, reason = "complete", None
        path = recorder.save(status, reason)
        if recorder.note:
            click.echo(f"{host}: {recorder.note}", err=True)
        if path is not None:
            saved[host] = path
    return saved


def _print(result: Any, saved: dict[str, Path], output_format: str) -> None:
    if output_format == "json":
        rows = []
        for outcome in result.outcomes:
            recorder = outcome.recorder
            row: dict[str, Any] = {"host": outcome.host}
            if outcome.host in saved:
                row.update(path=str(saved[outcome.host]), result=json.loads(saved[outcome.host].read_text()))
            else:
                row["error"] = outcome.error or (recorder.missed[-1]["why"] if recorder and recorder.missed
                                                 else "no window finished")
            rows.append(row)
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table


    console = Console()
    if console.width < 40:
        console.width = 100
    table = Table(title=escape("ASIC miners: median [min-max] over the windows"))
    for column in ("host", "miner", "TH/s", "W", "J/TH", "energy", "share TH/s", "polls"):
        table.add_column(column, justify="left" if column in ("host", "miner", "energy") else "right",
                         no_wrap=column in ("host", "polls"))
    notes: list[str] = []
    for outcome in result.outcomes:
        recorder = outcome.recorder
        if recorder is None or outcome.host not in saved:
            continue
        entry = recorder.document("x", None)["workloads"][0]
        rates = entry["spread"]["rate_per_s"]
        th = escape(f"{rates['median'] / 1e12:.4g} [{rates['min'] / 1e12:.4g}-{rates['max'] / 1e12:.4g}]")
        watts = f"{entry['watts']:.1f}" if entry["watts"] is not None else "-"
        j_per_th = f"{1e12 / entry['per_joule']:.3g}" if entry["per_joule"] else "-"
        share = entry["check"].get("rate_per_s")
        share_text = f"{share / 1e12:.4g}" if share is not None else "-"
        if entry["energy_source"] not in notes:
            notes.append(entry["energy_source"])
        table.add_row(escape(outcome.host), escape(recorder.identity.name), th, watts, j_per_th,
                      escape(f"{entry['energy_kind'] or 'none'} [{notes.index(entry['energy_source']) + 1}]"),
                      share_text, f"{recorder.answered}/{recorder.polls_planned}")
    console.print(table)
    for number, note in enumerate(notes, 1):
        console.print(escape(f"[{number}] {note}"), soft_wrap=True)
    for outcome in result.outcomes:
        if outcome.host in saved:
            fields = outcome.recorder.identity.fields
            used = fields.hashrate if outcome.recorder.windows[-1]["meter_details"]["reported"]["hashrate_from"] \
                == "miner" else fields.boards_hashrate
            console.print(escape(f"{outcome.host}: hash rate from {used}"), soft_wrap=True)
            console.print(f"saved {outcome.host} to {saved[outcome.host]}", markup=False, highlight=False,
                          soft_wrap=True)
