"""Where each ASIC figure comes from, and the share-based rate: pure functions, exact numbers."""

import pytest

from bench.asic.fields import (
    HASHES_PER_DIFFICULTY_1, ShareCounters, fields_for, share_rate, shares_from_cgminer_summary,
    shares_from_espminer_info,
)


def test_share_rate_is_accepted_difficulty_times_2_to_the_32_over_the_seconds():
    first = ShareCounters(accepted=100, rejected=1, difficulty_accepted=100 * 65536.0)
    last = ShareCounters(accepted=200, rejected=3, difficulty_accepted=200 * 65536.0)
    out = share_rate(first, last, 60.0)
    assert out["available"] is True
    assert out["rate_per_s"] == 100 * 65536 * HASHES_PER_DIFFICULTY_1 / 60.0
    assert (out["shares_accepted"], out["shares_rejected"]) == (100, 2)
    assert out["relative_uncertainty_95"] == pytest.approx(0.2)  # 2 / sqrt(100)


@pytest.mark.parametrize("first, last, why", [
    (None, ShareCounters(1, 0, 1.0), "expose no accepted-share counters"),
    (ShareCounters(5, 0, None), ShareCounters(9, 0, None), "not their difficulty"),
    (ShareCounters(9, 0, 900.0), ShareCounters(2, 0, 200.0), "went backwards"),
])
def test_no_share_rate_says_why(first, last, why):
    out = share_rate(first, last, 10.0)
    assert out["available"] is False and why in out["why"]


def test_counters_from_a_cgminer_summary_and_from_esp_miner():
    summary = {"STATUS": [{"STATUS": "S"}], "SUMMARY": [{"Accepted": 12, "Rejected": 1, "Difficulty Accepted": 768.0}]}
    assert shares_from_cgminer_summary(summary) == ShareCounters(12, 1, 768.0)
    assert shares_from_cgminer_summary({"STATUS": [{"STATUS": "E"}]}) is None
    assert shares_from_cgminer_summary({"SUMMARY": [{"Accepted": "lots"}]}) is None
    info = {"sharesAccepted": 40, "sharesRejected": 2, "stratumDiff": 1000}
    assert shares_from_espminer_info(info) == ShareCounters(40, 2, 40000.0)
    # Without the pool difficulty, shares are counted but no rate follows from them.
    assert shares_from_espminer_info({"sharesAccepted": 40}) == ShareCounters(40, None, None)
    assert shares_from_espminer_info("garbage") is None


def test_fields_are_named_for_known_backends_and_not_guessed_for_others():
    assert fields_for(["BOSMinerS9", "BOSMiner", "BaseMiner"], "BOS+").power.startswith("cgminer API tunerstatus")
    unknown = fields_for(["AvalonA1246", "AvalonMiner", "BaseMiner"], "Stock")
    assert unknown.firmware == "Stock"
    assert "pyasic's AvalonA1246 backend" in unknown.hashrate and "not named here" in unknown.power
