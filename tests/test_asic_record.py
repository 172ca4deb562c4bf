"""Polls into windows and a result file, without a network: trapezoid energy, missed polls,
and a save that cannot reach its folder."""

from pathlib import Path

import pytest

from bench import storage
from bench.asic.fields import ShareCounters, fields_for
from bench.asic.poll import Identity, Poll
from bench.asic.record import NoPower, Recorder, ReportedPower
from bench.results import load_result


def _identity() -> Identity:
    return Identity(
        host="10.0.0.5", address="10.0.0.5", miner=None, make="AntMiner", model="S9", firmware="BOS+",
        firmware_version="23.03", api_version="3.7", hostname="s9", mac="AA:BB:CC:00:00:01", algorithm="SHA256",
        backend="BOSMinerS9", backend_chain=["BOSMinerS9", "BOSMiner"], expected_hashrate_per_s=14e12,
        expected_hashboards=3, expected_fans=2, fields=fields_for(["BOSMinerS9", "BOSMiner"], "BOS+"),
    )


def _poll(index: int, t: float, rate: float | None, watts: float | None, difficulty: float) -> Poll:
    return Poll(index=index, t=t, utc=f"2026-12-02T00:00:0{index}Z", hashrate_per_s=rate, hashrate_from="miner",
                watts=watts, shares=ShareCounters(None, None, difficulty),
                error=None if rate is not None else "the reply held no hash rate (garbled, or not mining)")


def _recorder(path: Path, power_kind, write=storage.write_atomic) -> Recorder:
    identity = _identity()
    power = ReportedPower(identity, 5.0) if power_kind == "reported" else NoPower(identity)
    return Recorder(identity, power, path, tool={"name": "joulebench"}, machine={"hostname": "here"}, interval_s=5.0,
                    seconds=15.0, polls_planned=4, poll_timeout_s=5.0, source_sha256="0" * 64, identify_s=0.2,
                    pyasic_version="0.79.0", write=write)


def test_windows_run_poll_to_poll_with_trapezoid_energy_and_a_missed_poll_spanned(tmp_path):
    path = tmp_path / "vm" / "miner.json"
    recorder = _recorder(path, "reported")
    recorder.add(_poll(0, 100.0, 14e12, 1300.0, 0.0))
    recorder.add(_poll(1, 105.0, 15e12, 1400.0, 1000.0))
    recorder.add(_poll(2, 110.0, None, 1500.0, 2000.0))  # garbled: missed
    recorder.add(_poll(3, 115.0, 13e12, 1200.0, 3000.0))
    windows = recorder.windows
    assert [(w["seconds"], w["rate_per_s"], w["joules"]) for w in windows] == [
        (5.0, 15e12, (1300 + 1400) / 2 * 5.0), (10.0, 13e12, (1400 + 1200) / 2 * 10.0)]
    recorder.save("partial", "1 of 4 polls unanswered")
    document = load_result(path)
    entry = document["workloads"][0]
    assert entry["work"] == 15e12 * 5 + 13e12 * 10 and entry["seconds"] == 15.0
    assert entry["rate_per_s"] == 14e12  # median of the two windows' rates
    assert entry["check"]["rate_per_s"] == pytest.approx(3000.0 * 2**32 / 15.0)
    assert [m["poll"] for m in entry["config"]["polls_missed"]] == [2]
    assert document["device"]["slug"] == "asic-antminer-s9-aabbcc000001"


def test_a_poll_without_power_is_missed_when_the_firmware_reports_power(tmp_path):
    recorder = _recorder(tmp_path / "m.json", "reported")
    recorder.add(_poll(0, 0.0, 14e12, 1300.0, 0.0))
    recorder.add(_poll(1, 5.0, 14e12, None, 0.0))
    assert recorder.windows == [] and recorder.missed[0]["why"] == "the reply held no power figure"


def test_hash_rate_alone_has_no_energy_figures(tmp_path):
    recorder = _recorder(tmp_path / "m.json", "none")
    recorder.add(_poll(0, 0.0, 14e12, None, 0.0))
    recorder.add(_poll(1, 5.0, 14e12, None, 0.0))
    entry = recorder.document("complete", None)["workloads"][0]
    assert (entry["watts"], entry["joules"], entry["per_joule"], entry["energy_kind"]) == (None, None, None, None)
    assert set(entry["spread"]) == {"rate_per_s"}


def test_a_save_that_cannot_reach_its_folder_goes_to_the_rescue_folder(tmp_path, monkeypatch):
    rescue = tmp_path / "rescue" / "m.json"
    monkeypatch.setattr(storage, "rescue_path", lambda path: rescue)
    wanted = tmp_path / "gone" / "m.json"

    def write(path, document, exclusive=False):
        if path == wanted:
            raise OSError(28, "No space left on device")
        storage.write_atomic(path, document, exclusive=exclusive)

    recorder = _recorder(wanted, "reported", write=write)
    recorder.add(_poll(0, 0.0, 14e12, 1300.0, 0.0))
    recorder.add(_poll(1, 5.0, 14e12, 1300.0, 10.0))
    recorder.add(_poll(2, 10.0, 14e12, 1300.0, 20.0))
    assert recorder.path == rescue and "No space left on device" in recorder.note
    assert len(load_result(rescue)["workloads"][0]["phases"][0]["windows"]) == 2
