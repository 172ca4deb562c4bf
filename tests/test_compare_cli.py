"""`bench compare` and `bench report` end to end: formats that parse back, one-line errors, exit codes."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result, write  # noqa: E402

from bench import cli as cli_module  # noqa: E402
from bench.commands.compare import compare, report  # noqa: E402


def bench(capsys, *argv: str) -> tuple[int, str, str]:
    # The lead registers these in bench/cli.py; adding them again is harmless.
    cli_module.cli.add_command(compare)
    cli_module.cli.add_command(report)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    (folder / "host-a").mkdir(parents=True)
    write(folder / "host-a" / "gpu-1.json", make_result("Card A", created_utc="t1", mine=(2.0e7, 2.1e7, 2.2e7),
                                                        infer=(30.0, 31.0, 32.0)))
    write(folder / "host-a" / "gpu-2.json", make_result("Card A", created_utc="t2", mine=(2.3e7, 2.2e7, 2.4e7),
                                                        infer=(29.0, 33.0, 30.0)))
    write(folder / "host-a" / "cpu.json", make_result("Test CPU", kind="cpu", mine=(4.0e5, 4.2e5, 4.4e5),
                                                      infer=(0.8, 0.9, 1.0), energy_kind="estimated"))
    return folder


def test_table_names_each_device_once_with_merged_files(capsys, results):
    code, out, err = bench(capsys, "compare", str(results))
    assert code == 0, err
    assert "2 file(s)" in out and out.count("1 file(s)") == 1  # Card A's two files make one row
    assert "Test CPU" in out and "(estimated)" in out and "(measured)" in out


def test_csv_and_json_give_the_same_numbers(capsys, results):
    _, csv_text, _ = bench(capsys, "compare", str(results), "--format", "csv")
    _, json_text, _ = bench(capsys, "compare", str(results), "--format", "json")
    parsed_csv = list(csv.DictReader(io.StringIO(csv_text)))
    parsed_json = json.loads(json_text)
    assert [r["device"] for r in parsed_csv] == [r["device"] for r in parsed_json["rows"]] == ["Card A", "Test CPU"]
    for line, row in zip(parsed_csv, parsed_json["rows"]):
        for key, cell in row["cells"].items():
            assert (float(line[key]) if line[key] else None) == cell["value"]
    card = parsed_json["rows"][0]["cells"]
    assert card["hashes_per_joule"]["value"] == pytest.approx(2.2e7)  # median of the six pooled windows
    assert card["hashes_per_joule"]["spread"]["n"] == 6
    assert card["mining_usd_per_kwh"]["value"] > 0 and card["ai_usd_per_kwh"]["value"] > 0
    assert parsed_json["inputs"]["market"]["btc_usd"]["source"]


def test_markdown_output_is_a_pipe_table(capsys, results):
    code, out, _ = bench(capsys, "compare", str(results), "--format", "markdown")
    assert code == 0
    assert out.splitlines()[0].startswith("| device | mining hashes/J")
    assert sum(line.startswith("| ") for line in out.splitlines()) == 3


def test_sort_and_set_change_the_money_columns(capsys, results):
    _, cheap, _ = bench(capsys, "compare", str(results), "--format", "json", "--set", "btc_usd=50000")
    _, dear, _ = bench(capsys, "compare", str(results), "--format", "json", "--set", "btc_usd=100000",
                       "--sort", "ai_usd_per_kwh")
    value = lambda text: json.loads(text)["rows"][0]["cells"]["mining_usd_per_kwh"]["value"]  # noqa: E731
    assert value(dear) == pytest.approx(2 * value(cheap))
    assert json.loads(dear)["sort"] == "ai_usd_per_kwh"


def test_card_price_gives_payback_days(capsys, results):
    _, out, _ = bench(capsys, "compare", str(results), "--format", "json", "--card-price", "card a=1000",
                      "--set", "electricity_usd_per_kwh=0")
    card = json.loads(out)["rows"][0]
    assert card["cells"]["ai_payback_days"]["value"] == pytest.approx(1000 / card["economics"][1]["profit_usd_per_day"])
    assert json.loads(out)["inputs"]["card_prices_usd"] == {"Card A": 1000.0}


def test_card_price_for_an_unknown_device_is_a_one_line_error(capsys, results):
    code, _, err = bench(capsys, "compare", str(results), "--card-price", "RTX 9090=2000")
    assert code == 2
    assert err == "error: --card-price 'RTX 9090=2000': no device named 'RTX 9090' in the results (devices: Card A, Test CPU)\n"


def test_with_asics_adds_datasheet_rows(capsys, results):
    _, out, _ = bench(capsys, "compare", str(results), "--format", "json", "--with-asics")
    rows = json.loads(out)["rows"]
    asics = [r for r in rows if r["kind"] == "asic"]
    assert asics and all(r["cells"]["hashes_per_joule"]["energy_kind"] == "datasheet" for r in asics)
    assert rows[0]["kind"] == "asic"  # an ASIC beats any GPU at hashes per joule


def test_damaged_result_file_is_a_one_line_error(capsys, results, tmp_path):
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "joulebench-result", "schema_version": 1, "workl', encoding="utf-8")
    code, out, err = bench(capsys, "compare", str(results), str(damaged))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {damaged}: damaged result file (invalid JSON") and err.count("\n") == 1


def test_foreign_json_file_is_a_one_line_error(capsys, tmp_path):
    foreign = tmp_path / "pytest-benchmark.json"
    foreign.write_text(json.dumps({"machine_info": {}, "benchmarks": []}), encoding="utf-8")
    code, _, err = bench(capsys, "compare", str(foreign))
    assert (code, err) == (2, f"error: {foreign}: not a joulebench result file\n")


def test_result_of_another_schema_version_is_refused(capsys, tmp_path):
    future = write(tmp_path / "future.json", make_result("Card A", schema_version=2))
    code, _, err = bench(capsys, "compare", str(future))
    assert code == 2 and "schema_version 2 is not supported" in err


def test_files_of_one_device_from_different_code_are_shown_apart_not_refused(capsys, results, tmp_path):
    other = write(tmp_path / "other.json", make_result("Card A", created_utc="t9", sources={"mine": "c" * 64}))
    code, out, err = bench(capsys, "compare", str(results), str(other), "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(out)["rows"] if r["device"].startswith("Card A")]
    assert len(rows) == 2
    assert any("different workload code (source mmmmmmmm vs cccccccc)" in note for r in rows for note in r["notes"])


def test_empty_directory_and_missing_file_are_one_line_errors(capsys, tmp_path):
    code, _, err = bench(capsys, "compare", str(tmp_path))
    assert (code, err) == (2, f"error: {tmp_path}: no result files (*.json) in this directory\n")
    code, _, err = bench(capsys, "compare", str(tmp_path / "nope.json"))
    assert (code, err) == (2, f"error: {tmp_path / 'nope.json'}: no such result file\n")


def test_report_writes_html_and_pngs(capsys, results, tmp_path):
    out = tmp_path / "site" / "report.html"
    code, stdout, err = bench(capsys, "report", str(results), "--out", str(out), "--with-asics")
    assert code == 0, err
    written = [line.removeprefix("wrote ") for line in stdout.splitlines()]
    assert written == [str(out)] + [str(out.with_name(f"report-{k}.png")) for k in ("scatter", "revenue", "bars")]
    text = out.read_text(encoding="utf-8")
    assert "Antminer" in text and "btc_usd (bitcoin price)" in text


def test_report_path_must_be_html(capsys, results, tmp_path):
    code, _, err = bench(capsys, "report", str(results), "--out", str(tmp_path / "report.txt"))
    assert code == 2 and "should end in .html" in err


def test_revenue_curves_cross_the_ai_level_at_the_economics_flip_price(tmp_path):
    from bench.commands.compare import load_devices, revenue_curves
    from bench.economics import rows_for_device
    from bench.market import load_scenario

    # An ASIC-like miner with slow AI work: mining overtakes AI within the plotted BTC range.
    write(tmp_path / "r.json", make_result("Miner", mine=(5e10, 5e10, 5e10), infer=(0.5, 0.5, 0.5)))
    scenario = load_scenario(None)
    devices = load_devices([tmp_path])
    rows = {d.slug: rows_for_device(d, scenario) for d in devices}
    [curve] = revenue_curves(devices, rows, scenario, asics=[])
    assert min(curve.btc_usd) < curve.crossover_btc_usd < max(curve.btc_usd)
    # mining revenue is linear in BTC price: interpolate it at the flip price
    i = next(k for k, x in enumerate(curve.btc_usd) if x > curve.crossover_btc_usd)
    x0, x1 = curve.btc_usd[i - 1], curve.btc_usd[i]
    y0, y1 = curve.mining_usd_per_kwh[i - 1], curve.mining_usd_per_kwh[i]
    at_flip = y0 + (y1 - y0) * (curve.crossover_btc_usd - x0) / (x1 - x0)
    assert at_flip == pytest.approx(curve.ai_usd_per_kwh, rel=1e-9)


def test_results_of_several_presets_are_rows_grouped_by_preset_and_one_can_be_chosen(capsys, tmp_path):
    write(tmp_path / "quick.json", make_result("Card A", created_utc="t1", preset="quick"))
    write(tmp_path / "standard.json", make_result("Card A", created_utc="t2", preset="standard"))
    write(tmp_path / "b.json", make_result("Card B", created_utc="t3", preset="quick"))
    code, out, err = bench(capsys, "compare", str(tmp_path), "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    # the commoner preset (quick) first; the standard run apart, marked not comparable
    assert [r["device"] for r in rows][-1] == "Card A (t2, standard)"
    assert rows[-1]["cells"]["hashes_per_joule"]["verdict"] == "not comparable"
    code, out, err = bench(capsys, "compare", str(tmp_path), "--preset", "standard", "--format", "json")
    assert code == 0, err
    assert [row["device"] for row in json.loads(out)["rows"]] == ["Card A"]
    code, _, err = bench(capsys, "compare", str(tmp_path), "--preset", "long")
    assert code == 2 and "--preset long: no result of that preset" in err


def test_the_report_lists_the_published_index_in_usd_and_btc_as_checks_not_inputs():
    from bench.commands.compare import market_inputs
    from bench.market import load_scenario

    rows = {row.name: row for row in market_inputs(load_scenario("2026-01"))}
    assert rows["published hashprice (a check, not an input)"].value == "39.53 USD/PH/s/day"
    assert rows["published BTC hashprice (a check, not an input)"].value == "0.00043143 BTC/PH/s/day"
    assert "published BTC hashprice (a check, not an input)" not in {
        row.name for row in market_inputs(load_scenario("2026-02"))}  # no BTC figure was published for it
