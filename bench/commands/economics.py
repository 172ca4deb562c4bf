"""``bench economics``: money per watt, mining against AI, for measured results or typed rates.

    bench economics [RESULT...] [--scenario NAME] [--set KEY=VALUE]... [--inputs FILE]
                    [--hashrate H/s --watts W] [--tokens-per-s T --watts W]
                    [--card-price DEVICE=USD]... [--card-usd USD] [--months N]
                    [--sweep KEY=FROM:TO [--sweep-out PATH]] [--with-asics] [--format table|json|csv|markdown]

Each ``--watts`` belongs to the ``--hashrate`` or ``--tokens-per-s`` just before it (or, if it
comes first, just after it); a single ``--watts`` is the draw of both.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import click

from bench.errors import BenchError
from bench.formats import asics_option, format_option

_RATE_OPTIONS = ("--hashrate", "--tokens-per-s")


def rate_order(args: Sequence[str]) -> list[str]:
    """The rate and --watts options in the order the user typed them."""
    order = []
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name in (*_RATE_OPTIONS, "--watts"):
            order.append(name)
    return order


def assign_watts(order: Sequence[str], watts: Sequence[float]) -> dict[str, float]:
    """Which --watts goes with which rate option: the nearest rate before it, else the next one
    after it; one --watts alone is shared by every rate given."""
    rates = [name for name in order if name != "--watts"]
    if not watts:
        return {}
    if not rates:
        raise BenchError("--watts needs --hashrate or --tokens-per-s")
    if len(watts) == 1:
        return {name: watts[0] for name in rates}
    if len(set(rates)) != len(rates):
        raise BenchError("give --hashrate and --tokens-per-s at most once each")
    paired: dict[str, float] = {}
    pending_watts: list[float] = []  # --watts seen before any unpaired rate
    last_rate: str | None = None
    values = iter(watts)
    for name in order:
        if name == "--watts":
            value = next(values)
            if last_rate is not None and last_rate not in paired:
                paired[last_rate] = value
            else:
                pending_watts.append(value)
        else:
            last_rate = name
            if pending_watts:
                paired[name] = pending_watts.pop(0)
    if pending_watts or len(paired) != len(rates):
        raise BenchError("each --hashrate and --tokens-per-s needs its own --watts (or give one --watts for both)")
    return paired


class _EconomicsCommand(click.Command):
    """Records the order of the rate and --watts options, which click's parsed values lose."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["economics.rate_order"] = rate_order(args)
        return super().parse_args(ctx, args)


@click.command("economics", cls=_EconomicsCommand)
@click.argument("results", nargs=-1, type=click.Path(path_type=Path))
@click.option("--scenario", "scenario_name", metavar="NAME", help="Market scenario (see --list-scenarios).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Replace a market input, e.g. --set btc_usd=65000 (repeatable).")
@click.option("--inputs", "inputs_file", type=click.Path(path_type=Path), metavar="FILE",
              help="JSON file of market inputs, applied before --set.")
@click.option("--model-class", metavar="CLASS", help="Price output tokens at this model size class (1B, 8B, 70B).")
@click.option("--hashrate", type=float, metavar="H/s", help="A mining rate to price (with --watts).")
@click.option("--tokens-per-s", type=float, metavar="T", help="A decode rate in output tokens/s to price (with --watts).")
@click.option("--watts", type=float, multiple=True, metavar="W", help="Draw for the rate given just before it.")
@click.option("--ai-pricing", type=click.Choice(["tokens", "rental"]), default="tokens", show_default=True,
              help="Price inference per output token, or as a rented GPU-hour x utilization.")
@click.option("--card-usd", type=float, metavar="USD", help="Card price of every device, for payback.")
@click.option("--card-price", "card_prices", multiple=True, metavar="DEVICE=USD",
              help="One device's purchase price, for payback (repeatable; wins over --card-usd).")
@click.option("--months", type=int, metavar="N",
              help="Project N months: difficulty and price paths, the halving, cumulative profit, payback, NPV.")
@asics_option
@click.option("--sweep", "sweep_spec", metavar="KEY=FROM:TO",
              help="Sweep one input (btc_usd, difficulty, usd_per_million_tokens, electricity_usd_per_kwh...).")
@click.option("--sweep-out", type=click.Path(path_type=Path), metavar="PATH",
              help="Plot file (.png or .svg; default sweep-KEY.png); data goes next to it as .csv and .json.")
@click.option("--list-scenarios", is_flag=True, help="List the shipped scenarios and exit.")
@format_option
@click.pass_context
def economics(
    ctx: click.Context, results: tuple[Path, ...], scenario_name: str | None, overrides: tuple[str, ...],
    inputs_file: Path | None, model_class: str | None, hashrate: float | None, tokens_per_s: float | None,
    watts: tuple[float, ...], ai_pricing: str, card_usd: float | None, card_prices: tuple[str, ...],
    months: int | None, with_asics: bool, sweep_spec: str | None, sweep_out: Path | None, list_scenarios: bool,
    output_format: str,
) -> int:
    """Revenue, power cost and profit per day, per kWh and per watt: mining against AI work, with
    the BTC and electricity prices where the decision flips.

    \b
    Examples:
      bench economics results/vm/*.json --with-asics
      bench economics run.json --months 36 --card-price 'NVIDIA H100 80GB HBM3=25000'
      bench economics --hashrate 200e12 --watts 3500 --set btc_usd=65000 --format csv
    """
    from bench import economics as econ
    from bench import market
    from bench.asics import asic_names
    from bench.compare import Loaded, fleet, merge_devices
    from bench.commands.compare import parse_card_prices
    from bench.economics.horizon import months_checked
    from bench.economics.verdict import verdict_lines
    from bench.results import read_result
    from bench.storage import clean_floats

    as_json = output_format == "json"
    if list_scenarios:
        _print_scenarios(as_json)
        return 0
    scenario = market.load_scenario(scenario_name, overrides=list(overrides), user_file=inputs_file,
                                    model_class=model_class)
    if months is not None:
        months_checked(months)
    sweep_args = None
    if sweep_spec is not None:
        from bench.sweep import parse_sweep

        sweep_args = parse_sweep(sweep_spec)  # bad specs fail before any work

    # Each file is its own device (two runs of one card are priced apart), but the rank files of
    # one launch (torchrun, srun) are one fleet, priced as its ranks' sum.
    singles, ranks = fleet.split([Loaded(str(path), read_result(path)) for path in results])
    devices = [merge_devices([item])[0] for item in singles] + fleet.merge_fleets(ranks)
    prices = parse_card_prices(card_prices, devices, asic_names() if with_asics else ()) if card_prices else {}
    rows: list[Any] = []
    not_priced: list[str] = []
    seen: set[str] = set()
    for device in devices:
        price = prices.get(device.slug, card_usd)
        if isinstance(device, fleet.FleetRuns):
            file_rows = fleet.economics_rows(device, scenario, card_usd=price)
        else:
            file_rows = econ.rows_for_device(device, scenario, card_usd=price, infer_pricing=ai_pricing)
        not_priced += econ.unpriced(device, scenario, infer_pricing=ai_pricing)
        if any(row.name in seen for row in file_rows):  # the same device in two files
            file_rows = [_renamed(row, f"[{Path(device.paths[0]).stem}]") for row in file_rows]
        seen.update(row.name for row in file_rows)
        rows += file_rows
    rows += _typed_rows(ctx.meta.get("economics.rate_order", []), hashrate, tokens_per_s, watts, scenario, card_usd,
                        ai_pricing)
    if with_asics:
        rows += econ.asic_rows(scenario, prices)
    switches: list[tuple[str, Any]] = []
    if months is not None:
        rows = [replace(row, horizon=_project(row, scenario, months)) for row in rows]
        switches = _switches(rows, scenario)
    verdict = verdict_lines(rows, scenario)

    sweep_result, files = None, []
    if sweep_args is not None:
        from bench import sweep as sweeping

        key, start, stop = sweep_args
        sweep_result = sweeping.sweep(rows, scenario, key, start, stop)
        plot_path = Path(sweep_out) if sweep_out else Path(f"sweep-{key}.png")
        files = [sweeping.save_plot(sweep_result, plot_path), *sweeping.save_data(sweep_result, plot_path.with_suffix(""))]

    if as_json:
        document = {
            "scenario": {"name": scenario.name, "description": scenario.description, "model_class": scenario.model_class,
                         "date": scenario.date},
            "verdict": verdict,
            "hashprice_usd_per_phs_day": econ.scenario_hashprice_usd_per_phs_day(scenario),
            "published_hashprice": scenario.published_hashprice.to_dict() if scenario.published_hashprice else None,
            "hashprice_btc_per_phs_day": econ.scenario_hashprice_btc_per_phs_day(scenario),
            "published_btc_hashprice": (scenario.published_btc_hashprice.to_dict()
                                        if scenario.published_btc_hashprice else None),
            "rows": [row.to_dict() for row in rows],
            "not_priced": not_priced,
            "inputs": scenario.inputs_dict(),
        }
        if months is not None:
            document["switch"] = [{"device": device, "horizon": horizon.to_dict()} for device, horizon in switches]
        if sweep_result is not None:
            document["sweep"] = sweep_result.to_dict()
            document["files"] = [str(f) for f in files]
        click.echo(json.dumps(clean_floats(document), indent=2, allow_nan=False))
        return 0

    if output_format in ("csv", "markdown"):
        from bench.formats import as_text

        headers = ("row", "workload", "energy", "watts", "revenue_usd_per_day", "electricity_usd_per_day",
                   "profit_usd_per_day", "revenue_usd_per_kwh", "profit_usd_per_kwh", "profit_usd_per_kw_day",
                   "flip_btc_usd", "zero_profit_btc_usd", "breakeven_usd_per_kwh", "payback_days")
        click.echo(as_text(output_format, headers, [
            (r.name, r.workload, r.source, r.watts, r.revenue_usd_per_day, r.electricity_usd_per_day,
             r.profit_usd_per_day, r.revenue_usd_per_kwh, r.profit_usd_per_kwh, r.profit_usd_per_watt_day * 1000,
             r.breakeven.get("btc_usd"), r.breakeven.get("btc_usd_zero_profit"),
             r.breakeven.get("electricity_usd_per_kwh"), r.payback_days) for r in rows]), nl=False)
        return 0

    from rich.console import Console

    console = Console()
    if console.width < 40:
        console.width = 80
    for line in verdict:
        console.print(line, markup=False, highlight=False)
    if rows:
        console.print(econ.render_table(rows, scenario))
    for line in not_priced:
        console.print(line, markup=False, highlight=False)
    if months is not None:
        console.print(econ.render_horizons(rows, switches, months))
    console.print(econ.render_inputs(scenario))
    if not results and hashrate is None and tokens_per_s is None:
        console.print("no device figures given: pass result files, or --hashrate/--tokens-per-s with --watts")
    if sweep_result is not None:
        for crossing in sweep_result.crossovers:
            console.print(f"{crossing.kind}: {crossing.note}", markup=False, highlight=False)
        if not sweep_result.crossovers:
            console.print(f"no crossing between {sweep_args[1]:g} and {sweep_args[2]:g} {sweep_result.unit}")
        console.print("saved " + ", ".join(str(f) for f in files), markup=False, highlight=False)
    return 0


def _project(row: Any, scenario: Any, months: int) -> Any:
    from bench.economics.horizon import project

    return project(row, scenario, months)


def _switches(rows: Sequence[Any], scenario: Any) -> list[tuple[str, Any]]:
    """Per device with both mining and AI rows: the horizon of doing whichever earns more each month."""
    from bench.economics.horizon import switch

    out = []
    for device in dict.fromkeys(r.device for r in rows if r.source != "datasheet"):
        mining = next((r for r in rows if r.device == device and r.is_mining), None)
        ai = next((r for r in rows if r.device == device and r.workload == "infer"), None) or next(
            (r for r in rows if r.device == device and r.workload == "train"), None)
        if mining is not None and ai is not None:
            out.append((device, switch(mining.horizon, ai.horizon, scenario)))
    return out


def _renamed(row: Any, suffix: str) -> Any:
    return replace(row, name=f"{row.name} {suffix}", device=f"{row.device} {suffix}")


def _typed_rows(order: Sequence[str], hashrate: float | None, tokens_per_s: float | None, watts: Sequence[float],
                scenario: Any, card_usd: float | None, ai_pricing: str = "tokens") -> list[Any]:
    """Rows for rates typed on the command line: source "user", paired for the flip price."""
    from bench import economics as econ

    given = [name for name, value in (("--hashrate", hashrate), ("--tokens-per-s", tokens_per_s)) if value is not None]
    # Without the recorded order (a caller that bypassed parse_args), take the options as declared.
    order = list(order) or [*given, *["--watts"] * len(watts)]
    draw = assign_watts(order, watts)
    for name in given:
        if name not in draw:
            raise BenchError(f"{name} needs --watts (the device's draw while doing that work)")
    rows = []
    if hashrate is not None:
        rows.append(econ.mining_row("typed mine", hashrate, draw["--hashrate"], scenario, source="user",
                                    card_usd=card_usd, device="typed", source_detail="user: --hashrate and --watts"))
    if tokens_per_s is not None:
        rows.append(econ.ai_row("typed infer", tokens_per_s, draw["--tokens-per-s"], scenario, source="user",
                                pricing=ai_pricing, card_usd=card_usd, device="typed",
                                source_detail="user: --tokens-per-s and --watts"))
    if len(rows) == 2:
        rows = list(econ.pair(rows[0], rows[1], scenario))
    return rows


def _print_scenarios(as_json: bool) -> None:
    from bench import market

    catalog = {name: market.load_scenario(name) for name in market.scenario_names()}
    if as_json:
        click.echo(json.dumps({
            "default": market.DEFAULT_SCENARIO,
            "scenarios": {name: {"description": s.description, "inputs": s.inputs_dict()} for name, s in catalog.items()},
        }, indent=2))
        return
    for name, scenario in catalog.items():
        mark = " (default)" if name == market.DEFAULT_SCENARIO else ""
        click.echo(f"{name}{mark}: {scenario.description}")
