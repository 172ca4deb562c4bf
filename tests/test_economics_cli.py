"""`bench economics`: JSON output, option pairing, sweeps, and bad input as one line with exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench.commands.economics import assign_watts, economics, rate_order
from bench.errors import BenchError
from bench.market import KEYS, OPTIONAL_KEYS
from bench.storage import write_atomic

from test_economics import result_document  # tests/ is on sys.path (no package, prepend import mode)


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(economics, [*args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.output)


def test_json_has_rows_and_every_input_with_its_source():
    document = run_json("--hashrate", "3e9", "--watts", "300", "--tokens-per-s", "900", "--watts", "350",
                        "--with-asics")
    rows = {row["name"]: row for row in document["rows"]}
    mine, infer = rows["typed mine"], rows["typed infer"]
    for row in (mine, infer):
        for field in ("name", "workload", "watts", "revenue_usd_per_day", "electricity_usd_per_day",
                      "profit_usd_per_day", "revenue_usd_per_kwh"):
            assert field in row
        assert row["source"] == "user"
    assert mine["breakeven"]["btc_usd"] == infer["breakeven"]["btc_usd"] > 0
    assert (mine["watts"], infer["watts"]) == (300.0, 350.0)
    assert "Antminer S21 XP" in rows  # datasheet rows stand beside the device
    assert set(document["inputs"]) == set(KEYS) - OPTIONAL_KEYS
    for value in document["inputs"].values():
        assert set(value) == {"value", "unit", "date", "source"} and value["source"]
    assert document["scenario"]["name"] == "2026-01"


def test_card_price_reaches_a_datasheet_asic_with_asics():
    document = run_json("--with-asics", "--card-price", "antminer s21=5200", "--months", "12")
    rows = {row["name"]: row for row in document["rows"]}
    assert rows["Antminer S21"]["card_usd"] == 5200 and rows["Antminer S21"]["horizon"]["price_usd"] == 5200


def test_json_puts_the_published_index_in_usd_and_btc_beside_the_computed_figures():
    document = run_json("--hashrate", "1e12", "--watts", "20", "--no-asics")
    assert document["published_hashprice"]["value"] == 39.53
    assert document["published_btc_hashprice"] == {
        "value": 0.00043143, "unit": "BTC/PH/s/day", "date": "2026-01-12",
        "source": document["published_btc_hashprice"]["source"]}
    assert document["hashprice_btc_per_phs_day"] == pytest.approx(0.00043143, rel=0.002)
    # USD = BTC figure x the scenario's price, so the two computed figures never disagree.
    assert document["hashprice_usd_per_phs_day"] == pytest.approx(document["hashprice_btc_per_phs_day"] * 91132)
    # A changed input moves the computed figures, never the published ones.
    moved = run_json("--set", "difficulty=73.235e12", "--hashrate", "1e12", "--watts", "20", "--no-asics")
    assert moved["hashprice_btc_per_phs_day"] == pytest.approx(2 * document["hashprice_btc_per_phs_day"])
    assert moved["published_btc_hashprice"] == document["published_btc_hashprice"]


def test_set_and_scenario_reach_the_inputs_and_the_numbers():
    base = run_json("--scenario", "2025-11", "--hashrate", "1e12", "--watts", "20", "--no-asics")
    doubled = run_json("--scenario", "2025-11", "--set", "btc_usd=213870", "--hashrate", "1e12", "--watts", "20",
                       "--no-asics")
    assert doubled["inputs"]["btc_usd"] == {"value": 213870.0, "unit": "USD/BTC", "date": "user",
                                            "source": "user: --set btc_usd=213870"}
    # 213,870 = 2 x 106,935: mining revenue doubles.
    assert doubled["rows"][0]["revenue_usd_per_day"] == pytest.approx(2 * base["rows"][0]["revenue_usd_per_day"])
    assert len(base["rows"]) == 1  # --no-asics


def test_result_files_become_rows(tmp_path):
    path = tmp_path / "run.json"
    write_atomic(path, result_document(device_kind="cuda", device_name="NVIDIA H100 80GB HBM3"))
    document = run_json(str(path), "--no-asics", "--card-usd", "250")
    assert [row["workload"] for row in document["rows"]] == ["mine", "infer", "train"]
    assert all(row["card_usd"] == 250.0 for row in document["rows"])


def test_the_same_device_in_two_files_keeps_distinct_row_names(tmp_path):
    for name in ("a.json", "b.json"):
        write_atomic(tmp_path / name, result_document())
    document = run_json(str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--no-asics")
    names = [row["name"] for row in document["rows"]]
    assert len(names) == len(set(names)) == 4  # mine and infer of each; a CPU's training is not priced
    assert len(document["not_priced"]) == 2


@pytest.mark.parametrize("order, watts, expected", [
    (["--hashrate", "--watts", "--tokens-per-s", "--watts"], [10, 20], {"--hashrate": 10, "--tokens-per-s": 20}),
    (["--tokens-per-s", "--watts", "--hashrate", "--watts"], [10, 20], {"--tokens-per-s": 10, "--hashrate": 20}),
    (["--watts", "--hashrate", "--watts", "--tokens-per-s"], [10, 20], {"--hashrate": 10, "--tokens-per-s": 20}),
    (["--hashrate", "--tokens-per-s", "--watts"], [15], {"--hashrate": 15, "--tokens-per-s": 15}),
    (["--hashrate", "--tokens-per-s"], [], {}),
])
def test_each_watts_goes_with_the_rate_typed_next_to_it(order, watts, expected):
    assert assign_watts(order, watts) == expected


@pytest.mark.parametrize("order, watts, message", [
    (["--watts"], [10], "needs --hashrate"),
    (["--hashrate", "--watts", "--watts"], [10, 20], "own --watts"),
    (["--hashrate", "--watts", "--tokens-per-s", "--watts", "--watts"], [1, 2, 3], "own --watts"),
])
def test_unpaired_watts_is_refused(order, watts, message):
    with pytest.raises(BenchError, match=message):
        assign_watts(order, watts)


def test_rate_order_reads_the_options_as_typed():
    args = ["run.json", "--watts=5", "--hashrate", "1e9", "--set", "btc_usd=1", "--tokens-per-s", "3", "--", "--watts"]
    assert rate_order(args) == ["--watts", "--hashrate", "--tokens-per-s"]


def test_sweep_writes_plot_and_data_and_reports_the_flip(tmp_path):
    out = tmp_path / "plots" / "btc.png"
    document = run_json("--hashrate", "3e9", "--watts", "300", "--tokens-per-s", "900", "--watts", "350",
                        "--no-asics", "--sweep", "btc_usd=1e9:1e10", "--sweep-out", str(out))
    flip = document["rows"][0]["breakeven"]["btc_usd"]
    (crossing,) = [c for c in document["sweep"]["crossovers"] if c["kind"] == "flip"]
    assert crossing["value"] == pytest.approx(flip, rel=1e-9)
    assert document["files"] == [str(out), str(out.with_suffix(".csv")), str(out.with_suffix(".json"))]
    assert all((tmp_path / "plots" / name).exists() for name in ("btc.png", "btc.csv", "btc.json"))


def test_tables_print_rows_inputs_and_sources():
    result = CliRunner().invoke(economics, ["--tokens-per-s", "900", "--watts", "350", "--with-asics"],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "typed infer" in result.output and "Antminer S21 XP Hyd" in result.output
    assert "Hashrate Index Roundup (2026-01-12)" in result.output  # every input shown with its source


def test_list_scenarios_names_the_default():
    result = CliRunner().invoke(economics, ["--list-scenarios"])
    assert result.exit_code == 0
    assert "2026-01 (default)" in result.output and "2025-11" in result.output


# --- through the real entry point: one line, exit 2 ---------------------------------------------------


def run_main(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    from bench.cli import cli, main

    # Registered here as the lead registers it (cli.add_command), whatever state bench/cli.py is in.
    monkeypatch.setitem(cli.commands, "economics", economics)
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, named", [
    (["--set", "btc_usd=-1"], "btc_usd"),
    (["--set", "btc_usd=0"], "btc_usd"),
    (["--set", "difficulty=0"], "difficulty"),
    (["--set", "btc_usd=nan"], "btc_usd"),
    (["--set", "usd_per_million_tokens=-0.1"], "usd_per_million_tokens"),
    (["--set", "colour=blue"], "colour"),
    (["--scenario", "mars"], "mars"),
    (["--hashrate", "1e9", "--watts", "0"], "watts"),
    (["--hashrate", "1e9", "--watts", "-40"], "watts"),
    (["--tokens-per-s", "nan", "--watts", "40"], "token rate"),
    (["--hashrate", "1e9"], "--watts"),
    (["--sweep", "btc_usd=9:1"], "FROM must be less than TO"),
    (["--set", "difficulty=1e300", "--hashrate", "1e9", "--watts", "40"], "difficulty"),
    (["--set", "btc_usd=1e-320", "--hashrate", "1e9", "--watts", "40"], "btc_usd"),
    (["--set", "difficulty=1e-300", "--hashrate", "1e9", "--watts", "40"], "difficulty"),
    (["--hashrate", "1e9", "--watts", "40", "--sweep", "btc_usd=1:2", "--sweep-out", "/proc/x.png"], "/proc/x"),
    (["--hashrate", "1e9", "--watts", "40", "--months", "0"], "--months"),
    (["--card-price", "Nope=5", "--hashrate", "1e9", "--watts", "40"], "Nope"),
    (["--card-price", "Antminer S21=5200"], "a datasheet ASIC takes a price with --with-asics"),
    (["--card-price", "Antminer S99=5200", "--with-asics"], "Antminer S21 XP"),  # the names it knows
])
def test_bad_input_is_one_line_naming_it_with_exit_2(args, named, capsys, monkeypatch):
    code, err = run_main(["economics", *args], capsys, monkeypatch)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert named in err


def test_a_damaged_result_file_is_exit_2(tmp_path, capsys, monkeypatch):
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    code, err = run_main(["economics", str(path)], capsys, monkeypatch)
    assert code == 2 and "damaged result file" in err


def test_commands_package_offers_economics_for_the_cli_to_register():
    from bench.commands import COMMANDS

    names = [command.name for command in COMMANDS]
    assert "economics" in names and len(names) == len(set(names))


def test_months_give_every_row_a_horizon_and_each_device_a_switch(tmp_path):
    path = tmp_path / "h100.json"
    write_atomic(path, result_document(device_kind="cuda", device_name="NVIDIA H100 80GB HBM3"))
    document = run_json(str(path), "--no-asics", "--months", "18", "--card-price", "NVIDIA H100 80GB HBM3=25000")
    for row in document["rows"]:
        horizon = row["horizon"]
        assert len(horizon["months"]) == 18 and horizon["price_usd"] == 25000
        months = horizon["months"]
        assert months[0]["cumulative_profit_usd"] == pytest.approx(-25000 + months[0]["profit_usd"])
        assert horizon["cumulative_profit_usd"] == pytest.approx(months[-1]["cumulative_profit_usd"])
        assert set(months[0]) >= {"month", "date", "revenue_usd", "power_usd", "hosting_usd", "profit_usd",
                                  "cumulative_profit_usd", "subsidy_btc", "difficulty", "btc_usd"}
    [switch] = document["switch"]
    assert switch["device"] == "NVIDIA H100 80GB HBM3" and len(switch["horizon"]["months"]) == 18
    # (1,050,000 - 931,968) blocks / 144 a day = 819.7 days after 2026-01-12
    assert document["rows"][0]["horizon"]["halving_date"] == "2028-04-10"


def test_the_decision_comes_first_one_line_per_device(tmp_path):
    path = tmp_path / "run.json"
    write_atomic(path, result_document())
    document = run_json(str(path), "--no-asics")
    [line] = document["verdict"]
    assert line.startswith("Test CPU: AI inference earns ") and "x more per kWh than mining" in line
    assert "mining pays more above BTC $" in line
    result = CliRunner().invoke(economics, [str(path), "--no-asics"], env={"COLUMNS": "100"})
    assert result.output.startswith("Test CPU: AI inference earns")


def test_tables_fit_80_columns_without_cutting_a_number(tmp_path):
    path = tmp_path / "run.json"
    write_atomic(path, result_document())
    result = CliRunner().invoke(economics, [str(path), "--card-usd", "123456", "--months", "12"],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    document = run_json(str(path), "--card-usd", "123456")
    payback = next(r for r in document["rows"] if r["workload"] == "infer")["payback_days"]
    from bench.units import fmt

    assert fmt(payback) in result.output  # e.g. "1,234,567" whole, never "1,"


def test_datasheet_asic_rows_are_off_by_default_as_in_every_command():
    assert not any(r["source"] == "datasheet" for r in run_json("--hashrate", "1e12", "--watts", "20")["rows"])
    assert any(r["source"] == "datasheet"
               for r in run_json("--hashrate", "1e12", "--watts", "20", "--with-asics")["rows"])


@pytest.mark.parametrize("output_format, first", [("csv", "row,workload,energy"), ("markdown", "| row | workload |")])
def test_rows_print_as_csv_or_markdown(output_format, first):
    result = CliRunner().invoke(economics, ["--hashrate", "1e12", "--watts", "20", "--format", output_format])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(first) and "typed mine" in result.output
