"""``bench compare`` and ``bench report``: the procurement view over saved result files.

    bench compare results/ [--sort COLUMN] [--format table|json|csv|markdown]
                  [--scenario NAME] [--set KEY=VALUE]... [--card-price DEVICE=USD]... [--with-asics]
    bench report results/ --out report.html  (same options; also writes report-*.png)

RESULT arguments are result files or directories (searched for ``*.json``). Files of one device
are merged; see bench/compare/ for the merge, comparability and spread rules, and
bench/economics/ for the money.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import click

from bench.asics import asic_names as all_asic_names
from bench.compare import fleet
from bench.compare import (
    NOT_COMPARABLE, Comparison, DeviceRuns, Loaded, build_comparison, column_keys, describe_cell,
    merge_devices, to_csv, to_markdown,
)
from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.formats import asics_option, format_option

# BTC prices the report's revenue plot spans, as multiples of the scenario's price.
SWEEP_FROM, SWEEP_TO = 0.05, 3.0
# A device's flip price further out than this multiple is named in the legend, not plotted to.
SWEEP_MAX_EXTEND = 10.0


def result_paths(arguments: Sequence[Path]) -> list[Path]:
    """Files as given; directories expanded to the ``*.json`` files under them, sorted."""
    paths: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(p for p in argument.rglob("*.json") if p.is_file())
            if not found:
                raise BenchError(f"{argument}: no result files (*.json) in this directory")
            paths += found
        else:
            paths.append(argument)
    return paths


def load_devices(arguments: Sequence[Path], preset: str | None = None) -> list[DeviceRuns]:
    """Merged devices of the given files and folders; ``preset`` keeps only that preset's runs.

    Runs of different presets measure differently sized work: they stay separate rows, grouped by
    preset and marked not comparable with the others (bench/compare/merge.py and rank.py).
    """
    from bench.results import read_result

    loaded = [Loaded(str(path), read_result(path)) for path in result_paths(arguments)]
    presets = Counter(str(item.result.protocol.preset) for item in loaded)
    if preset is not None:
        loaded = [item for item in loaded if item.result.protocol.preset == preset]
        if not loaded:
            raise BenchError(f"--preset {preset}: no result of that preset among {_preset_counts(presets)}")
    # Ranks of a launch (torchrun, srun) are summed into fleet rows, not pooled as runs of one device.
    singles, ranks = fleet.split(loaded)
    return (merge_devices(singles) if singles else []) + fleet.merge_fleets(ranks)


def _preset_counts(presets: Counter) -> str:
    return ", ".join(f"{name}: {count} file{'s' if count > 1 else ''}" for name, count in sorted(presets.items()))


def parse_card_prices(items: Sequence[str], devices: Sequence[DeviceRuns],
                      asic_names: Sequence[str] = ()) -> dict[str, float]:
    """``DEVICE=USD`` (DEVICE: the device name or slug, any case, or a datasheet ASIC's name among
    ``asic_names``) -> {slug: usd}; a datasheet ASIC's key is the slug of its name."""
    prices: dict[str, float] = {}
    for item in items:
        name, sep, text = item.rpartition("=")
        if not sep or not name.strip():
            raise BenchError(f"--card-price {item!r}: expected DEVICE=USD, e.g. --card-price 'NVIDIA H100=25000'")
        try:
            usd = float(text)
        except ValueError:
            raise BenchError(f"--card-price {item!r}: {text!r} is not a number") from None
        if not usd > 0 or usd == float("inf"):
            raise BenchError(f"--card-price {item!r}: the price must be a positive number of USD")
        wanted = slugify(name)
        matches = [d.slug for d in devices if wanted in (d.slug, slugify(d.name))]
        matches += [wanted for asic in asic_names if slugify(asic) == wanted]
        if not matches:
            known = ", ".join(sorted({d.name for d in devices} | set(asic_names))) or "none"
            datasheet = not asic_names and any(slugify(asic) == wanted for asic in all_asic_names())
            hint = "; a datasheet ASIC takes a price with --with-asics" if datasheet else ""
            raise BenchError(f"--card-price {item!r}: no device named {name.strip()!r} in the results "
                             f"(devices: {known}){hint}")
        for slug in matches:
            prices[slug] = usd
    return prices


@dataclass(frozen=True)
class Built:
    """Everything compare and report show, computed once: the economics rows feed the table, the
    JSON/CSV/Markdown and the report's plots alike."""

    comparison: Comparison
    devices: list[DeviceRuns]
    scenario: Any  # bench.market.Scenario
    rows: dict[str, list[Any]]  # device slug -> its EconomicsRows
    asics: list[Any]  # datasheet EconomicsRows
    verdict: list[str]  # one line per device: which work earns more per kWh, where it flips


def build(
    arguments: Sequence[Path], *, scenario_name: str | None, overrides: Sequence[str], inputs_file: Path | None,
    model_class: str | None, card_prices: Sequence[str], with_asics: bool, sort_key: str, preset: str | None = None,
) -> Built:
    from bench import economics, market

    scenario = market.load_scenario(scenario_name, overrides=list(overrides), user_file=inputs_file,
                                    model_class=model_class)
    devices = load_devices(arguments, preset)
    prices = parse_card_prices(card_prices, devices, all_asic_names() if with_asics else ())
    rows = {d.slug: fleet.economics_rows(d, scenario, card_usd=prices.get(d.slug)) for d in devices}
    asics = economics.asic_rows(scenario, prices) if with_asics else []
    comparison = build_comparison(
        devices,
        economics=rows,
        asics=asics,
        sort_key=sort_key,
        inputs={
            "scenario": scenario.name,
            "scenario_description": scenario.description,
            "model_class": scenario.model_class,
            "market": scenario.inputs_dict(),
            "card_prices_usd": {d.name: prices[d.slug] for d in devices if d.slug in prices},
        },
    )
    from bench.economics.verdict import verdict_lines

    verdict = verdict_lines([r for device_rows in rows.values() for r in device_rows], scenario)
    return Built(comparison, devices, scenario, rows, asics, verdict)


def _common_options(function):
    options = [
        click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--sort", "sort_key", type=click.Choice(column_keys()), default="hashes_per_joule",
                     show_default=True, help="Column to rank by, best first."),
        click.option("--scenario", "scenario_name", metavar="NAME", help="Market scenario (default: the newest)."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Replace a market input, e.g. --set btc_usd=65000 (repeatable)."),
        click.option("--inputs", "inputs_file", type=click.Path(path_type=Path), metavar="FILE",
                     help="JSON file of market inputs, applied before --set."),
        click.option("--model-class", metavar="CLASS", help="Price output tokens at this model size class (1B, 8B, 70B)."),
        click.option("--card-price", "card_prices", multiple=True, metavar="DEVICE=USD",
                     help="A device's purchase price, for payback days (repeatable)."),
        asics_option,
        click.option("--preset", type=click.Choice(["quick", "standard", "long"]),
                     help="Only results of this preset (others are shown as separate, not comparable rows)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command("compare")
@_common_options
@format_option
@click.option("--wide", is_flag=True, help="Every column in the table (by default the ones a 100-column terminal fits).")
def compare(
    results: tuple[Path, ...], sort_key: str, scenario_name: str | None, overrides: tuple[str, ...],
    inputs_file: Path | None, model_class: str | None, card_prices: tuple[str, ...], with_asics: bool,
    preset: str | None, output_format: str, wide: bool,
) -> int:
    """Rank devices from result files: work per joule, money per kWh and per watt, payback.

    \b
    Examples:
      bench compare results/
      bench compare results/ --with-asics --card-price 'NVIDIA H100 80GB HBM3=25000' --wide
      bench compare a.json b.json --format markdown > table.md

    One row per device (files of one device are merged). Each figure shows its ratio to the best
    comparable row and whether the difference is larger than the run-to-run spread; results of
    other workload code, presets or models are marked not comparable.
    """
    built = build(
        results, scenario_name=scenario_name, overrides=overrides, inputs_file=inputs_file,
        model_class=model_class, card_prices=card_prices, with_asics=with_asics, sort_key=sort_key, preset=preset,
    )
    comparison, scenario = built.comparison, built.scenario
    if output_format == "json":
        click.echo(fleet.to_json(comparison, built.devices))  # fleet rows add ranks and their spread
    elif output_format == "csv":
        click.echo(to_csv(comparison), nl=False)
    elif output_format == "markdown":
        click.echo(to_markdown(comparison), nl=False)
    else:
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else (220 if wide else 100))
        for line in built.verdict:
            console.print(line, markup=False, highlight=False)
        console.print(rich_table(comparison, scenario, wide=wide))
    return 0


# The columns a 100-column terminal shows; --wide shows every one.
COMPACT_COLUMNS = ("hashes_per_joule", "decode_tokens_per_joule", "mining_profit_usd_per_kw_day",
                   "ai_profit_usd_per_kw_day", "flip_btc_usd")


def rich_table(comparison: Comparison, scenario: Any, *, wide: bool = True):
    from rich.table import Table

    from bench.economics import scenario_hashprice_usd_per_phs_day

    shown = [c for c in comparison.columns if wide or c.key in COMPACT_COLUMNS or c.key == comparison.sort_key]
    table = Table(title=_escape(f"Devices compared, sorted by {comparison.column(comparison.sort_key).title}, best first"),
                  title_justify="left")
    table.add_column("device", overflow="fold")
    for column in shown:
        table.add_column(_escape(f"{column.title}\n({column.unit}" + (
            f", {'higher' if column.higher_is_better else 'lower'} better)" if column.ranked else ")")),
            justify="right", overflow="fold")
    for row in comparison.rows:
        cells = []
        for column in shown:
            cell = row.cells[column.key]
            text = describe_cell(cell, column)
            style = "green" if cell.highlighted else "dim" if cell.verdict == NOT_COMPARABLE else ""
            cells.append(f"[{style}]{_escape(text)}[/]" if style else _escape(text))
        files = f"\n{len(row.files)} file(s)" if row.files else ""
        table.add_row(f"{_escape(row.label)}\n[dim]{_escape(row.kind + files)}[/]", *cells)
    caption = [
        "±: half the lowest-to-highest window range; xN: ratio to the best comparable row; beyond spread: "
        "the two devices' window ranges do not overlap (within spread: they do). (measured)/(estimated): energy source.",
        f"Market: scenario {scenario.name}; BTC ${scenario.get('btc_usd'):,.0f} ({scenario.values['btc_usd'].date}), "
        f"hashprice ${scenario_hashprice_usd_per_phs_day(scenario):.2f}/PH/s/day, tokens "
        f"${scenario.get('usd_per_million_tokens'):g}/1M ({scenario.model_class} class), electricity "
        f"${scenario.get('electricity_usd_per_kwh'):g}/kWh x PUE {scenario.get('pue'):g}. Sources: bench economics.",
    ]
    caption += [f"- {note}" for note in comparison.notes]
    caption += [f"- {row.label}: {note}" for row in comparison.rows for note in row.notes]
    table.caption = _escape("\n".join(caption))
    table.caption_justify = "left"
    return table


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@click.command("report")
@_common_options
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, metavar="PATH.html",
              help="The HTML file; plots are also written beside it as PATH-<plot>.png.")
@click.option("--months", type=int, metavar="N",
              help="Also plot cumulative profit by month over N months: mining, AI work and switching per device.")
def report(
    results: tuple[Path, ...], sort_key: str, scenario_name: str | None, overrides: tuple[str, ...],
    inputs_file: Path | None, model_class: str | None, card_prices: tuple[str, ...], with_asics: bool,
    preset: str | None, out_path: Path, months: int | None,
) -> int:
    """Write a self-contained HTML report (table, plots, energy sources, market inputs) and PNGs.

    \b
    Examples:
      bench report results/ --out report.html
      bench report results/ --with-asics --months 36 --out report.html"""
    from bench import __version__
    from bench import report as reporting
    from bench.economics.horizon import months_checked

    if out_path.suffix.lower() not in (".html", ".htm"):
        raise BenchError(f"--out {out_path}: the report path should end in .html")
    if months is not None:
        months_checked(months)  # a bad N fails before any file is read
    built = build(
        results, scenario_name=scenario_name, overrides=overrides, inputs_file=inputs_file,
        model_class=model_class, card_prices=card_prices, with_asics=with_asics, sort_key=sort_key, preset=preset,
    )
    scenario = built.scenario
    inputs = reporting.ReportInputs(
        comparison=built.comparison,
        devices=built.devices,
        market=market_inputs(scenario),
        curves=revenue_curves(built.devices, built.rows, scenario, built.asics),
        electricity_usd_per_kwh=scenario.get("electricity_usd_per_kwh") * scenario.get("pue"),
        btc_usd_now=scenario.get("btc_usd"),
        scenario=f"{scenario.name} ({scenario.description})" if scenario.description else scenario.name,
        verdict=built.verdict,
        horizons=reporting.horizon_series(built.devices, built.rows, scenario, months) if months is not None else (),
        months=months,
        tool_version=__version__,
    )
    for path in reporting.write_report(out_path, inputs):
        click.echo(f"wrote {path}")
    return 0


def market_inputs(scenario: Any) -> list[Any]:
    from bench.market import KEYS
    from bench.report import MarketInput

    out = [
        MarketInput(f"{key} ({KEYS[key].meaning})", f"{value.value:g} {value.unit}", value.date, value.source)
        for key, value in scenario.values.items()
    ]
    if scenario.published_hashprice is not None:
        published = scenario.published_hashprice
        out.append(MarketInput("published hashprice (a check, not an input)", f"{published.value:g} {published.unit}",
                               published.date, published.source))
    if scenario.published_btc_hashprice is not None:
        published = scenario.published_btc_hashprice
        out.append(MarketInput("published BTC hashprice (a check, not an input)",
                               f"{published.value:g} {published.unit}", published.date, published.source))
    return out


def revenue_curves(
    devices: Sequence[DeviceRuns], rows: Mapping[str, Sequence[Any]], scenario: Any, asics: Sequence[Any],
) -> list[Any]:
    """Mining revenue and profit per kWh of each device (and ASIC) across BTC prices, its flat AI
    revenue and profit, and the flip and zero-profit prices economics computed, from bench.sweep and
    bench.economics.recompute over those same economics rows (``rows``: device slug -> its EconomicsRows)."""
    from dataclasses import replace

    from bench import sweep
    from bench.economics import recompute
    from bench.report import RevenueCurve

    btc_now = scenario.get("btc_usd")
    pairs = []
    for device in devices:
        by_workload = {r.workload: r for r in rows.get(device.slug, ())}
        if "mine" in by_workload:
            # Names must be distinct for the sweep; two cards of one model differ by slug.
            mine = replace(by_workload["mine"], name=f"{device.slug} mine")
            infer = replace(by_workload["infer"], name=f"{device.slug} infer") if "infer" in by_workload else None
            pairs.append((device.label, device.figures["mine"].energy_kind, mine, infer))
    pairs += [(a.name, EnergyKind.DATASHEET, a, None) for a in asics]
    if not pairs:
        return []
    # The plot marks flips and zero-profit prices: extend the span to the ones within reach.
    flips = [m.breakeven.get(key) for _, _, m, _ in pairs for key in ("btc_usd", "btc_usd_zero_profit")]
    in_reach = [f for f in flips if f is not None and f <= SWEEP_MAX_EXTEND * btc_now]
    stop = max([SWEEP_TO * btc_now, *[1.15 * f for f in in_reach]])
    swept = [r for _, _, m, i in pairs for r in (m, i) if r is not None]
    result = sweep.sweep(swept, scenario, "btc_usd", SWEEP_FROM * btc_now, stop, points=121)
    at_prices = [scenario.with_value("btc_usd", x, "sweep of btc_usd") for x in result.values]
    curves = []
    for label, kind, mine, infer in pairs:
        curves.append(RevenueCurve(
            device=label,
            btc_usd=result.values,
            mining_usd_per_kwh=result.revenue_usd_per_kwh[mine.name],
            ai_usd_per_kwh=infer.revenue_usd_per_kwh if infer is not None else None,
            crossover_btc_usd=mine.breakeven.get("btc_usd"),
            energy_kind=kind,
            mining_profit_usd_per_kwh=tuple(recompute(mine, here).profit_usd_per_kwh for here in at_prices),
            ai_profit_usd_per_kwh=infer.profit_usd_per_kwh if infer is not None else None,
            zero_profit_btc_usd=mine.breakeven.get("btc_usd_zero_profit"),
        ))
    return curves
