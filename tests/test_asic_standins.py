"""bench asic against stand-in miners on loopback: Braiins OS (cgminer API, TCP 4028) and ESP-Miner
(HTTP, port 80), healthy, one that stops answering mid-run, one that turns to garbage, and
something that answers garbage from the start; the files are checked against what they served."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.cli import main
from bench.results import load_result
from standin_miners import BraiinsStandIn, ESPMinerStandIn, GarbageStandIn, LuxOSStandIn, free_loopback_address

# Everything pyasic may send to read a miner; a command that changes a setting is none of these.
READ_ONLY_RPC = {"version", "devdetails", "summary", "devs", "temps", "tunerstatus", "fans", "pools", "stats",
                 "config", "power", "coin", "edevs", "estats"}


def bench_asic(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["asic", *args])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def saved(out_dir: Path) -> dict[str, dict]:
    """Result documents by the host they name."""
    return {json.loads(p.read_text())["device"]["host"]: json.loads(p.read_text())
            for p in sorted(out_dir.rglob("*.json"))}


def assert_read_only(*standins) -> None:
    for standin in standins:
        for kind, what in standin.requests:
            if kind == "rpc":
                assert set(what.split("+")) <= READ_ONLY_RPC, what
            elif kind == "http":
                assert what.startswith("GET "), what


def windows(document: dict) -> list[dict]:
    return document["workloads"][0]["phases"][0]["windows"]


@pytest.fixture
def espminer_address():
    try:
        return free_loopback_address((80,))
    except PermissionError:
        pytest.skip("pyasic finds ESP-Miner on http://ADDRESS/ only: binding port 80 needs root "
                    "or CAP_NET_BIND_SERVICE")


def test_many_miners_at_once_figures_match_what_they_served(capsys, tmp_path, espminer_address):
    braiins = BraiinsStandIn()
    esp = ESPMinerStandIn(espminer_address)
    hung = BraiinsStandIn(hang_after=2)
    garbage = GarbageStandIn()
    nothing = free_loopback_address((80, 4028))
    with braiins, esp, hung, garbage:
        code, out, err = bench_asic(capsys, braiins.address, esp.address, hung.address, garbage.address, nothing,
                                    "--seconds", "3", "--interval", "1", "--out", str(tmp_path))
    assert code == 1, err  # some answered, some did not
    assert "Traceback" not in err
    lines = err.splitlines()
    # Every line is ours and names its host: none of pyasic's log records or warnings leak out.
    hosts = (braiins.address, esp.address, hung.address, garbage.address, nothing)
    assert all(line.startswith("bench asic: ") or line.split(":")[0] in hosts for line in lines), err
    assert [line for line in lines if line.startswith(f"{garbage.address}:")] == [
        f"{garbage.address}: answers with bytes that are not text, not as any miner firmware pyasic knows "
        "(garbled reply)"]
    assert [line for line in lines if line.startswith(f"{nothing}:")] == [
        f"{nothing}: no answer (nothing listening on ports 80 and 4028, or unreachable)"]
    assert any(line.startswith(f"{hung.address}: poll 2 unanswered (no answer within 1 s)") for line in lines)
    documents = saved(tmp_path)
    assert set(documents) == {braiins.address, esp.address, hung.address}
    assert_read_only(braiins, esp, hung)

    # Braiins OS: the hash rate of each window is the 'MHS 1m' served at its end; power the
    # trapezoid of the tunerstatus figures served at both ends.
    document = documents[braiins.address]
    assert document["status"] == "complete" and document["partial_reason"] is None
    device = document["device"]
    assert (device["kind"], device["make"], device["model"], device["api_version"]) == ("asic", "AntMiner", "S9", "3.7")
    assert device["fields"]["firmware"] == "Braiins OS (bosminer)"
    entry = document["workloads"][0]
    assert (entry["name"], entry["unit"], entry["energy_kind"]) == ("mine", "hashes", "reported")
    assert "ApproximateMinerPowerConsumption" in entry["energy_source"] and "reported" in entry["energy_source"]
    assert entry["config"]["hashrate_field"] == "cgminer API summary 'MHS 1m' (1-minute average)"
    served = braiins.served
    assert len(windows(document)) == 3 and len(served) == 4
    for k, window in enumerate(windows(document)):
        assert window["rate_per_s"] == pytest.approx(served[k + 1]["mhs_1m"] * 1e6)
        assert window["work"] == pytest.approx(window["rate_per_s"] * window["seconds"])
        watts = (served[k]["watts"] + served[k + 1]["watts"]) / 2
        assert window["joules"] == pytest.approx(watts * window["seconds"])
        assert window["meter_details"]["reported"]["fans_rpm"] == [4200, 4201]
        assert [b["chip_temp_c"] for b in window["meter_details"]["reported"]["hashboards"]] == [75, 76, 77]
        assert 0.5 < window["seconds"] < 1.5  # polls keep to the schedule, give or take a reply
    rates = sorted(s["mhs_1m"] * 1e6 for s in served[1:])
    assert entry["rate_per_s"] == pytest.approx(rates[1])  # the median of three windows
    assert entry["watts"] == pytest.approx(sorted((a["watts"] + b["watts"]) / 2 for a, b in zip(served, served[1:]))[1])
    # The accepted difficulty grows at 0.97 x the base rate: the share-based rate must find that.
    share = entry["check"]
    assert share["available"] is True
    assert share["rate_per_s"] == pytest.approx(0.97 * braiins.base_mhs * 1e6, rel=0.05)
    assert entry["phases"][0]["derived"]["joules_per_terahash"] == pytest.approx(1e12 / entry["per_joule"])
    load_result(next(tmp_path.rglob(f"*{braiins.address.replace('.', '-')}*.json")))  # bench run's format

    # ESP-Miner: hashRate in GH/s, power in W, MAC and version from system/info.
    document = documents[esp.address]
    assert document["status"] == "complete"
    device = document["device"]
    assert (device["make"], device["model"], device["firmware_version"], device["hostname"], device["mac"]) == (
        "BitAxe", "Gamma", "v2.6.1", "bitaxe-gamma", "AA:BB:CC:00:11:22")
    entry = document["workloads"][0]
    assert entry["energy_kind"] == "reported"
    assert entry["rate_per_s"] == pytest.approx(1180.5e9)
    assert entry["watts"] == pytest.approx(18.0)
    assert entry["per_joule"] == pytest.approx(1180.5e9 / 18.0)
    assert all(w["rate_per_s"] == pytest.approx(1180.5e9) for w in windows(document))
    share = entry["check"]
    assert share["rate_per_s"] == pytest.approx(0.95 * 1180.5e9, rel=0.05)
    assert share["shares_accepted"] > 100 and share["relative_uncertainty_95"] < 0.2

    # The one that stopped answering after two polls: one window, kept, marked partial.
    document = documents[hung.address]
    assert document["status"] == "partial"
    assert document["partial_reason"] == "2 of 4 polls unanswered (first: poll 2, no answer within 1 s)"
    assert len(windows(document)) == 1
    assert windows(document)[0]["rate_per_s"] == pytest.approx(hung.served[1]["mhs_1m"] * 1e6)
    assert [m["poll"] for m in document["workloads"][0]["config"]["polls_missed"]] == [2, 3]
    assert f"saved {braiins.address} to " in out and f"saved {hung.address} to " in out


def test_luxos_hash_rate_comes_from_its_hashboards_and_says_so(capsys, tmp_path):
    # pyasic 0.79 reads no miner-level rate from LuxOS (its _get_hashrate returns early): the sum
    # of the hashboards' chain_rate is used, and the file must name that field, not 'GHS 5s'.
    lux = LuxOSStandIn()
    with lux:
        code, out, err = bench_asic(capsys, lux.address, "--seconds", "2", "--interval", "1", "--out", str(tmp_path))
    assert code == 0, err
    document = saved(tmp_path)[lux.address]
    assert document["device"]["fields"]["firmware"] == "LuxOS" and document["device"]["firmware_version"] == "2024.5.1"
    entry = document["workloads"][0]
    assert entry["config"]["hashrate_field"] is None
    assert entry["config"]["boards_hashrate_field"] == "cgminer API stats chain_rate1..3 (GH/s per hashboard)"
    assert entry["config"]["windows_from_hashboards"] == 2
    assert "cgminer API power Watts" in entry["energy_source"] and entry["energy_kind"] == "reported"
    assert f"{lux.address}: hash rate from cgminer API stats chain_rate1..3 (GH/s per hashboard)" in out
    for k, window in enumerate(windows(document)):
        end = lux.served[k + 1]
        assert window["rate_per_s"] == pytest.approx(sum(end["chain_gh"]) * 1e9)
        boards = window["meter_details"]["reported"]["hashboards"]
        assert [b["hashrate_per_s"] for b in boards] == pytest.approx([g * 1e9 for g in end["chain_gh"]])
        assert [b["chip_temp_c"] for b in boards] == [64.0, 65.0, 66.0]  # (first + fourth chip sensor) / 2
        assert window["joules"] == pytest.approx((lux.served[k]["watts"] + end["watts"]) / 2 * window["seconds"])
    assert_read_only(lux)


def test_a_miner_turning_to_garbage_mid_run_keeps_its_good_polls(capsys, tmp_path, espminer_address):
    # Identification reads system/info twice and each poll twice: after 6 replies it garbles.
    esp = ESPMinerStandIn(espminer_address, garble_after=6)
    with esp:
        code, out, err = bench_asic(capsys, esp.address, "--seconds", "3", "--interval", "1", "--out", str(tmp_path))
    assert code == 0, err
    document = saved(tmp_path)[esp.address]
    assert document["status"] == "partial"
    missed = document["workloads"][0]["config"]["polls_missed"]
    assert missed and all(m["why"] == "the reply held no hash rate (garbled, or not mining)" for m in missed)
    assert len(windows(document)) == 4 - 1 - len(missed)
    assert all(w["rate_per_s"] == pytest.approx(1180.5e9) for w in windows(document))
    assert "Traceback" not in err


def test_firmware_without_power_saves_hash_rate_alone(capsys, tmp_path):
    quiet = BraiinsStandIn(reports_power=False)
    with quiet:
        code, out, err = bench_asic(capsys, quiet.address, "--seconds", "2", "--interval", "1", "--out", str(tmp_path))
    assert code == 0, err
    assert (f"{quiet.address}: Braiins OS (bosminer) reports no power; saving the hash rate alone "
            "(give --watts W or --watts-command CMD for energy)") in err.splitlines()
    entry = saved(tmp_path)[quiet.address]["workloads"][0]
    assert entry["energy_kind"] is None and entry["watts"] is None and entry["per_joule"] is None
    assert entry["energy_source"].startswith("none: ")
    assert entry["rate_per_s"] == pytest.approx(sorted(s["mhs_1m"] * 1e6 for s in quiet.served[1:])[0], rel=0.03)
    assert all(w["joules"] is None for w in windows(saved(tmp_path)[quiet.address]))


def test_watts_given_is_estimated_and_wins_over_nothing(capsys, tmp_path):
    quiet = BraiinsStandIn(reports_power=False)
    with quiet:
        code, _, err = bench_asic(capsys, quiet.address, "--seconds", "2", "--interval", "1", "--watts", "1400",
                                  "--out", str(tmp_path))
    assert code == 0, err
    document = saved(tmp_path)[quiet.address]
    entry = document["workloads"][0]
    assert entry["energy_kind"] == "estimated" and document["meter"]["name"] == "user-watts"
    assert entry["watts"] == pytest.approx(1400.0)
    assert all(w["joules"] == pytest.approx(1400.0 * w["meter_seconds"]) for w in windows(document))
    load_result(next(tmp_path.rglob("*.json")))


def test_watts_command_is_measured_at_the_wall_over_firmware_figures(capsys, tmp_path):
    braiins = BraiinsStandIn()
    with braiins:
        code, _, err = bench_asic(capsys, braiins.address, "--seconds", "3", "--interval", "1.5",
                                  "--watts-command", "echo 1234.5", "--out", str(tmp_path))
    assert code == 0, err
    document = saved(tmp_path)[braiins.address]
    entry = document["workloads"][0]
    assert entry["energy_kind"] == "measured" and "echo 1234.5" in entry["energy_source"]
    assert entry["watts"] == pytest.approx(1234.5, rel=1e-6)
    # What the firmware said is kept beside the wall reading, not mixed into it.
    assert windows(document)[0]["meter_details"]["reported"]["reported_watts"] in (
        s["watts"] for s in braiins.served)


def test_none_answering_is_exit_2_and_one_line_each(capsys, tmp_path):
    first, second = free_loopback_address((80, 4028)), free_loopback_address((80, 4028))
    code, out, err = bench_asic(capsys, first, second, "no-such-miner.invalid", "--seconds", "1", "--interval", "1",
                                "--out", str(tmp_path))
    assert code == 2
    lines = err.splitlines()
    assert lines[-1] == "error: no miner answered: nothing saved"
    named = (f"{first}:", f"{second}:", "no-such-miner.invalid: cannot resolve")
    assert sum(line.startswith(named) for line in lines) == 3
    assert not list(tmp_path.rglob("*.json"))


def test_json_format_lists_every_host(capsys, tmp_path):
    braiins = BraiinsStandIn()
    nothing = free_loopback_address((80, 4028))
    with braiins:
        code, out, err = bench_asic(capsys, braiins.address, nothing, "--seconds", "1", "--interval", "1",
                                    "--format", "json", "--out", str(tmp_path))
    assert code == 1, err
    rows = json.loads(out)
    assert [row["host"] for row in rows] == [braiins.address, nothing]
    assert rows[0]["result"]["device"]["kind"] == "asic" and Path(rows[0]["path"]).exists()
    assert rows[1]["error"].startswith("no answer")
    assert math.isfinite(rows[0]["result"]["workloads"][0]["rate_per_s"])


def test_a_host_stalling_identification_is_one_line(capsys, tmp_path, monkeypatch):
    from bench.asic import survey

    monkeypatch.setattr(survey, "IDENTIFY_TIMEOUT_S", 0.5)
    stalled = BraiinsStandIn(hang_after=0)  # takes every command, answers none
    with stalled:
        code, _, err = bench_asic(capsys, stalled.address, "--seconds", "1", "--interval", "1", "--out", str(tmp_path))
    assert code == 2
    assert err.splitlines()[-2:] == [f"{stalled.address}: identification took over 0.5 s (a miner API that stalls)",
                                     "error: no miner answered: nothing saved"]
