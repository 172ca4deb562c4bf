"""Economics formulas against hand-computed cases, break-even points plugged back in, hashprice
against the published index, and rows built from result documents."""

from __future__ import annotations

import json

import pytest

from bench import economics as econ
from bench.errors import BenchError
from bench.market import load_scenario, scenario_names
from bench.results import SCHEMA_VERSION, FORMAT_NAME, validate

# A round-number market, so every expected figure below can be worked out by hand.
HAND = {
    "btc_usd": 100_000, "difficulty": 100e12, "subsidy_btc": 3.125, "fees_btc_per_block": 0.125,
    "pool_fee": 0.02, "electricity_usd_per_kwh": 0.05, "pue": 1.5, "usd_per_million_tokens": 0.10,
    "gpu_hour_usd": 2.0, "utilization": 0.5, "uptime": 1.0, "usd_per_million_input_tokens": 0.05,
    "hosting_usd_per_kw_month": 0.0,
}


@pytest.fixture
def hand():
    return load_scenario("2026-01", overrides=HAND)


def rel(x: float, y: float) -> float:
    return abs(x - y) / abs(y)


# --- formulas ------------------------------------------------------------------------------------


def test_btc_per_hash_is_block_reward_over_expected_hashes_per_block():
    # At difficulty 1 a block takes 2^32 hashes on average: 3.25 BTC / 4,294,967,296 hashes.
    assert econ.btc_per_hash(1, 3.125, 0.125) == pytest.approx(3.25 / 4_294_967_296, rel=1e-15)


def test_hashprice_hand_computed():
    # 1 PH/s for a day = 1e15 x 86,400 hashes; each earns 3.25 / (1e14 x 2^32) BTC at $100,000:
    # 3.25 x 86,400 x 1e15 x 1e5 / (1e14 x 4,294,967,296) = 3.25 x 86,400 x 1e6 / 4,294,967,296 = 65.3788
    value = econ.hashprice_usd_per_phs_day(100_000, 100e12, 3.125, 0.125)
    assert value == pytest.approx(65.37884, rel=1e-6)


def test_electricity_cost_is_watts_times_pue_times_price():
    # 20 W for 24 h = 0.48 kWh at the device; x PUE 1.5 x $0.05/kWh = $0.036
    assert econ.electricity_usd_per_day(20, 1.5, 0.05) == pytest.approx(0.036, rel=1e-12)


def test_mining_row_hand_computed(hand):
    # 1 TH/s at 20 W. Revenue/day = hashprice per TH/s (65.37884 / 1000) x (1 - 0.02) = 0.0640713
    row = econ.mining_row("asic", 1e12, 20, hand, source="user", card_usd=100)
    assert row.revenue_usd_per_day == pytest.approx(0.0640713, rel=1e-5)
    assert row.electricity_usd_per_day == pytest.approx(0.036, rel=1e-12)
    assert row.profit_usd_per_day == pytest.approx(0.0640713 - 0.036, rel=1e-4)
    # per kWh the device draws: 0.0640713 / 0.48 = 0.133482; profit/kWh = 0.133482 - 1.5 x 0.05
    assert row.revenue_usd_per_kwh == pytest.approx(0.133482, rel=1e-5)
    assert row.profit_usd_per_kwh == pytest.approx(0.133482 - 0.075, rel=1e-4)
    assert row.revenue_usd_per_watt_day == pytest.approx(0.0640713 / 20, rel=1e-5)
    assert row.profit_usd_per_watt_day == pytest.approx(0.0280713 / 20, rel=1e-4)
    # break-even electricity: 0.133482 / 1.5 = 0.0889879; zero-profit BTC: $100,000 x 0.075 / 0.133482
    assert row.breakeven["electricity_usd_per_kwh"] == pytest.approx(0.0889879, rel=1e-5)
    assert row.breakeven["btc_usd_zero_profit"] == pytest.approx(56_187.4, rel=1e-5)
    assert row.breakeven["btc_usd"] is None  # no AI work of this device to flip against
    # payback: $100 / $0.0280713 per day = 3,562.4 days
    assert row.payback_days == pytest.approx(3562.36, rel=1e-5)
    assert row.hashes_per_joule == pytest.approx(5e10)
    assert row.hashprice_usd_per_phs_day == pytest.approx(65.37884, rel=1e-6)


def test_ai_token_row_hand_computed(hand):
    # 50 tokens/s x 86,400 s x $0.10 / 1e6 x utilization 0.5 = $0.216/day; busy 12 h at 200 W
    # = 2.4 kWh x 1.5 x $0.05 = $0.18
    row = econ.ai_row("gpu", 50, 200, hand, source="measured")
    assert row.revenue_usd_per_day == pytest.approx(0.216, rel=1e-12)
    assert row.electricity_usd_per_day == pytest.approx(0.18, rel=1e-12)
    assert row.profit_usd_per_day == pytest.approx(0.036, rel=1e-9)
    assert row.revenue_usd_per_kwh == pytest.approx(0.09, rel=1e-12)  # 0.432 / 4.8
    assert row.breakeven["electricity_usd_per_kwh"] == pytest.approx(0.06, rel=1e-12)  # 0.09 / 1.5
    # zero profit at 0.075 $/kWh / (50/200 x 3.6e6 = 900,000 tokens/kWh) x 1e6 = $0.08333/1M
    assert row.breakeven["usd_per_million_tokens"] == pytest.approx(0.083333, rel=1e-5)
    assert row.tokens_per_joule == 0.25
    assert row.pricing_basis == "tokens"


def test_occupancy_scales_revenue_and_idle_hours_draw_the_idle_baseline(hand):
    # Mining 75% of the hours at 20 W, idle at 5 W the rest: 0.75 x $0.0640713 revenue;
    # (20 x 0.75 + 5 x 0.25) x 24 / 1000 = 0.39 kWh x 1.5 x $0.05 = $0.02925 power.
    at = hand.with_value("uptime", 0.75, "test")
    row = econ.mining_row("asic", 1e12, 20, at, source="user", idle_watts=5)
    assert row.revenue_usd_per_day == pytest.approx(0.75 * 0.0640713, rel=1e-5)
    assert row.kwh_per_day == pytest.approx(0.39, rel=1e-12)
    assert row.electricity_usd_per_day == pytest.approx(0.02925, rel=1e-12)
    assert row.revenue_usd_per_kwh == pytest.approx(0.75 * 0.0640713 / 0.39, rel=1e-5)
    # AI: utilization 0.5 of the hours at 200 W, 50 W idle the rest: (100 + 25) x 24 / 1000 = 3 kWh
    ai = econ.ai_row("gpu", 50, 200, hand, source="measured", idle_watts=50)
    assert ai.kwh_per_day == pytest.approx(3.0, rel=1e-12)
    assert ai.electricity_usd_per_day == pytest.approx(0.225, rel=1e-12)


def test_prompt_tokens_earn_at_the_input_price(hand):
    # 4 prompt tokens with every output token: $0.10 + 4 x $0.05 = $0.30 per 1M output tokens sold
    row = econ.ai_row("gpu", 50, 200, hand, source="measured", input_tokens_per_output_token=4)
    assert row.revenue_usd_per_day == pytest.approx(50 * 86_400 * 0.30 / 1e6 * 0.5, rel=1e-12)
    at = hand.with_value("usd_per_million_tokens", row.breakeven["usd_per_million_tokens"], "test")
    at = at.with_value("usd_per_million_input_tokens",
                       0.05 * row.breakeven["usd_per_million_tokens"] / 0.10, "test")
    assert abs(econ.recompute(row, at).profit_usd_per_day) < 1e-12


def test_hosting_is_paid_per_kw_of_draw_every_day(hand):
    # $6/kW/month for 0.2 kW: $1.20 a month = $12 / (365.25 / 12) a day
    at = hand.with_value("hosting_usd_per_kw_month", 6, "test")
    row = econ.ai_row("gpu", 50, 200, at, source="measured")
    assert row.hosting_usd_per_day == pytest.approx(1.2 / (365.25 / 12), rel=1e-12)
    assert row.profit_usd_per_day == pytest.approx(0.216 - 0.18 - 1.2 / (365.25 / 12), rel=1e-9)
    zero = at.with_value("electricity_usd_per_kwh", row.breakeven["electricity_usd_per_kwh"], "test")
    assert abs(econ.recompute(row, zero).profit_usd_per_day) < 1e-12


def test_rental_row_earns_rate_times_hours_times_utilization_whatever_the_token_rate(hand):
    # $2.00/GPU-hour x 24 h x 0.5 = $24/day
    slow = econ.ai_row("gpu", 10, 700, hand, workload="train", source="measured")
    fast = econ.ai_row("gpu", 1000, 700, hand, workload="train", source="measured")
    assert slow.pricing_basis == fast.pricing_basis == "rental"
    assert slow.revenue_usd_per_day == fast.revenue_usd_per_day == pytest.approx(24.0)


def test_flip_price_hand_computed_and_plugged_back(hand):
    mining = econ.mining_row("dev mine", 1e12, 20, hand, source="measured", device="dev")
    ai = econ.ai_row("dev infer", 50, 200, hand, source="measured", device="dev")
    mining, ai = econ.pair(mining, ai, hand)
    # mining earns 0.133482 $/kWh at $100,000, AI 0.09 $/kWh: flip at 100,000 x 0.09 / 0.133482
    assert mining.breakeven["btc_usd"] == ai.breakeven["btc_usd"] == pytest.approx(67_424.9, rel=1e-5)
    at_flip = hand.with_value("btc_usd", mining.breakeven["btc_usd"], "test")
    assert rel(econ.recompute(mining, at_flip).revenue_usd_per_kwh, econ.recompute(ai, at_flip).revenue_usd_per_kwh) < 1e-12


@pytest.mark.parametrize("make", [
    lambda s: econ.mining_row("m", 3e7, 65, s, source="estimated"),
    lambda s: econ.ai_row("a", 12, 65, s, source="estimated"),
    lambda s: econ.ai_row("t", 12, 65, s, workload="train", source="estimated", gpu_hour_usd=2.69),
])
def test_breakeven_electricity_gives_zero_profit_when_plugged_back(make):
    scenario = load_scenario("2026-01")
    row = make(scenario)
    at = scenario.with_value("electricity_usd_per_kwh", row.breakeven["electricity_usd_per_kwh"], "test")
    assert abs(econ.recompute(row, at).profit_usd_per_day) < 1e-12 * row.revenue_usd_per_day + 1e-18


def test_zero_profit_btc_and_token_prices_give_zero_profit_when_plugged_back():
    scenario = load_scenario("2025-11")
    mining = econ.mining_row("S21", 200e12, 3500, scenario, source="datasheet")
    at = scenario.with_value("btc_usd", mining.breakeven["btc_usd_zero_profit"], "test")
    assert abs(econ.recompute(mining, at).profit_usd_per_day) < 1e-9
    ai = econ.ai_row("gpu", 800, 350, scenario, source="measured")
    at = scenario.with_value("usd_per_million_tokens", ai.breakeven["usd_per_million_tokens"], "test")
    assert abs(econ.recompute(ai, at).profit_usd_per_day) < 1e-9


# --- hashprice against the published index ----------------------------------------------------


@pytest.mark.parametrize(
    "name, published_usd, published_btc",
    [
        # Hashrate Index Roundup (2025-11-03): USD hashprice $43.33/PH/s/day, BTC 0.00040577.
        ("2025-11", 43.33, 0.00040577),
        # Hashrate Index Roundup (2026-01-12): USD hashprice $39.53/PH/s/day, BTC 0.00043143.
        ("2026-01", 39.53, 0.00043143),
    ],
)
def test_scenario_hashprice_is_within_1_percent_of_the_published_index_for_its_date(name, published_usd, published_btc):
    # The index's own formula, on-chain difficulty and subsidy: the BTC figure lands within 0.1%. What
    # is left in USD is the index's conversion price (2026-01: $91,625 = 39.53 / 0.00043143, 0.5% above
    # the roundup's quoted $91,132) and its 144-block fee window (the scenarios carry a week's fees).
    scenario = load_scenario(name)
    assert rel(econ.scenario_hashprice_usd_per_phs_day(scenario), published_usd) < 0.01
    assert rel(econ.scenario_hashprice_btc_per_phs_day(scenario), published_btc) < 0.002
    # The data file carries the same published figures, shown to users beside the computed ones.
    assert scenario.published_hashprice.value == published_usd
    assert scenario.published_btc_hashprice.value == published_btc


# --- bad inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("hashes, watts, named", [
    (0, 100, "hash rate"), (-1, 100, "hash rate"), (float("nan"), 100, "hash rate"),
    (1e9, 0, "watts"), (1e9, -5, "watts"), (1e9, float("inf"), "watts"),
])
def test_mining_row_refuses_bad_rates_and_watts_naming_them(hashes, watts, named):
    with pytest.raises(BenchError, match=named):
        econ.mining_row("x", hashes, watts, load_scenario(), source="user")


def test_rows_refuse_an_unknown_source_workload_pricing_or_card_price():
    scenario = load_scenario()
    with pytest.raises(BenchError, match="source"):
        econ.mining_row("x", 1e9, 10, scenario, source="guessed")
    with pytest.raises(BenchError, match="workload"):
        econ.ai_row("x", 5, 10, scenario, workload="mine", source="user")
    with pytest.raises(BenchError, match="pricing"):
        econ.ai_row("x", 5, 10, scenario, pricing="vibes", source="user")
    with pytest.raises(BenchError, match="card price"):
        econ.ai_row("x", 5, 10, scenario, source="user", card_usd=-10)


def test_no_payback_without_a_card_price_or_without_profit():
    scenario = load_scenario("2026-01")
    assert econ.mining_row("x", 1e12, 20, scenario, source="user").payback_days is None
    losing = econ.mining_row("cpu", 3e7, 65, scenario, source="estimated", card_usd=500)
    assert losing.payback_days is None
    assert any("no payback" in note for note in losing.notes)


# --- ASIC reference rows ---------------------------------------------------------------------------


def test_asic_rows_cover_the_required_models_as_datasheet_figures():
    rows = econ.asic_rows(load_scenario())
    names = {row.name for row in rows}
    assert {"Antminer S19 XP", "Antminer S21", "Antminer S21 Pro", "Antminer S21 XP", "Antminer S21 XP Hyd",
            "Whatsminer M60S", "Avalon A16 XP"} <= names
    for row in rows:
        assert row.source == "datasheet"
        assert row.source_detail.startswith("datasheet (")
    s21xp = next(row for row in rows if row.name == "Antminer S21 XP")
    # 270 TH/s at 3645 W = 13.5 J/TH -> 1e12 / 13.5 hashes per joule
    assert s21xp.hashes_per_joule == pytest.approx(1e12 / 13.5)


def test_an_asic_with_a_sourced_price_pays_back_at_that_price_and_one_without_needs_a_given_price():
    scenario = load_scenario().with_value("electricity_usd_per_kwh", 0.04, "test")  # cheap power: mining profits
    rows = {row.name: row for row in econ.asic_rows(scenario)}
    s21xp = rows["Antminer S21 XP"]
    # Hashrate Index's $25.70/TH x 270 TH/s
    assert s21xp.card_usd == 6939 and s21xp.payback_days == pytest.approx(6939 / s21xp.profit_usd_per_day)
    assert any("$25.70/TH" in note for note in s21xp.notes)
    assert rows["Antminer S21"].card_usd is None and rows["Antminer S21"].payback_days is None
    given = {row.name: row for row in econ.asic_rows(scenario, {"antminer-s21": 5200, "antminer-s21-xp": 6000})}
    assert given["Antminer S21"].card_usd == 5200 and given["Antminer S21 XP"].card_usd == 6000
    assert given["Antminer S21 XP"].notes == ("price $6,000: --card-price",)


@pytest.mark.parametrize("price, named", [
    ({"value": -1, "unit": "USD", "date": "2026", "source": "x"}, "positive"),
    ({"value": 100, "unit": "EUR", "date": "2026", "source": "x"}, "unit 'USD'"),
    ({"value": 100, "unit": "USD", "date": "2026", "source": " "}, "source"),
    ("cheap", "expected an object"),
])
def test_an_asic_price_that_is_not_a_sourced_positive_usd_figure_is_refused_naming_it(price, named):
    from bench.asics import parse_asics

    document = {"format": "joulebench-asics", "asics": [
        {"name": "Box", "terahashes_per_s": 100, "watts": 2000, "date": "2026", "source": "x", "price": price}]}
    with pytest.raises(BenchError, match=f"Box price.*{named}"):
        parse_asics(document)


# --- rows from a result document ----------------------------------------------------------------


def _phase(name, unit, rate, watts, kind="measured"):
    return {"name": name, "unit": unit, "rate_per_s": rate, "per_joule": rate / watts, "watts": watts,
            "joules": watts * 10.0, "seconds": 10.0, "energy_source": f"{kind}: test meter", "energy_kind": kind}


def _workload(name, unit, phases, headline, config=None):
    top = next(p for p in phases if p["name"] == headline)
    entry = {"name": name, "status": "ok", "headline_phase": headline, "config": config or {}, "phases": phases}
    entry.update({k: v for k, v in top.items() if k != "name"})
    return entry


def result_document(kind="measured", device_kind="cpu", model="tiny", device_name="Test CPU", infer_config=None):
    document = {
        "format": FORMAT_NAME, "schema_version": SCHEMA_VERSION,
        "device": {"kind": device_kind, "name": device_name},
        "workloads": [
            _workload("mine", "hashes", [_phase("hash", "hashes", 4e7, 80.0, kind)], "hash"),
            _workload("infer", "tokens", [_phase("prefill", "tokens", 900.0, 90.0, kind),
                                          _phase("decode", "tokens", 30.0, 60.0, kind)], "decode",
                      config={"model": model, **(infer_config or {})}),
            _workload("train", "tokens", [_phase("train", "tokens", 400.0, 95.0, kind)], "train"),
            {"name": "broken", "status": "failed", "error": "boom"},
        ],
    }
    return validate(document)


def test_rows_from_result_price_mining_decode_and_training_at_the_gpu_models_rate():
    scenario = load_scenario("2026-01")
    document = result_document(device_kind="cuda", device_name="NVIDIA H100 80GB HBM3")
    rows = {row.workload: row for row in econ.rows_from_result(document, scenario)}
    assert set(rows) == {"mine", "infer", "train"}
    assert rows["mine"].hashes_per_s == 4e7 and rows["mine"].watts == 80.0
    # Without prompt and output lengths, inference is priced from the decode phase alone.
    assert rows["infer"].tokens_per_s == 30.0 and rows["infer"].watts == 60.0
    assert rows["infer"].pricing_basis == "tokens"
    assert rows["train"].pricing_basis == "rental"
    # The H100 SXM's own listed rate, x 24 h x utilization 0.85
    assert rows["train"].gpu_hour_usd == 2.69
    assert rows["train"].revenue_usd_per_day == pytest.approx(2.69 * 24 * 0.85)
    assert any("H100 SXM" in note for note in rows["train"].notes)
    # Mining and inference of one device are paired: the flip price is filled and plugs back.
    flip = rows["mine"].breakeven["btc_usd"]
    assert flip == rows["infer"].breakeven["btc_usd"] > 0
    at = scenario.with_value("btc_usd", flip, "test")
    assert rel(econ.recompute(rows["mine"], at).revenue_usd_per_kwh, econ.recompute(rows["infer"], at).revenue_usd_per_kwh) < 1e-12


@pytest.mark.parametrize("kind, name", [("cpu", "Test CPU"), ("cuda", "NVIDIA GeForce RTX 3060")])
def test_a_device_without_a_rental_market_gets_no_rental_row_and_says_so(kind, name):
    from bench.compare import Loaded, merge_devices
    from bench.results import parse_result

    scenario = load_scenario("2026-01")
    [device] = merge_devices([Loaded("r", parse_result(result_document(device_kind=kind, device_name=name)))])
    rows = {row.workload for row in econ.rows_for_device(device, scenario)}
    assert rows == {"mine", "infer"}  # no train row: it would borrow another device's rate
    [note] = econ.unpriced(device, scenario)
    assert note.startswith(f"{name} train: not priced") and "--set gpu_hour_usd" in note
    # Given a rate, the device is priced at it.
    priced = scenario.with_value("gpu_hour_usd", 0.30, "test")
    train = next(r for r in econ.rows_for_device(device, priced) if r.workload == "train")
    assert train.revenue_usd_per_day == pytest.approx(0.30 * 24 * 0.85)
    assert econ.unpriced(device, priced) == []


def test_inference_is_priced_per_request_with_prompt_tokens_at_the_input_price():
    # 128 prompt tokens at 900 tok/s (90 W) and 32 output tokens at 30 tok/s (60 W) per request:
    # 0.1422 s + 1.0667 s = 1.2089 s and 12.8 J + 64 J = 76.8 J for 32 output tokens.
    scenario = load_scenario("2026-01")
    document = result_document(infer_config={"prompt_tokens": 128, "output_tokens": 32})
    infer = next(r for r in econ.rows_from_result(document, scenario) if r.workload == "infer")
    seconds = 128 / 900 + 32 / 30
    assert infer.tokens_per_s == pytest.approx(32 / seconds)
    assert infer.watts == pytest.approx((128 / 900 * 90 + 32 / 30 * 60) / seconds)
    assert infer.input_tokens_per_output_token == 4
    per_output = (0.08 + 4 * 0.05) / 1e6
    assert infer.revenue_usd_per_day == pytest.approx(32 / seconds * per_output * 86_400 * 0.85)


def test_inference_can_be_priced_as_rental_and_still_flips_against_mining():
    scenario = load_scenario("2026-01")
    document = result_document(device_kind="cuda", device_name="NVIDIA H200")
    rows = {r.workload: r for r in econ.rows_from_result(document, scenario, infer_pricing="rental")}
    # the H200's listed $3.59/GPU-hour x 24 h x 0.85 utilization, whatever the decode rate
    assert rows["infer"].pricing_basis == "rental"
    assert rows["infer"].revenue_usd_per_day == pytest.approx(3.59 * 24 * 0.85)
    assert rows["mine"].breakeven["btc_usd"] == pytest.approx(
        econ.breakeven_btc_usd(rows["mine"].hashes_per_joule, rows["infer"].revenue_usd_per_kwh, scenario))


def test_estimated_energy_is_never_shown_as_measured():
    rows = econ.rows_from_result(result_document(kind="estimated"), load_scenario())
    assert {row.source for row in rows} == {"estimated"}
    assert all(row.source_detail.startswith("estimated:") for row in rows)


def test_a_model_of_another_size_class_is_flagged():
    scenario = load_scenario()  # tokens priced as 8B class
    infer = next(r for r in econ.rows_from_result(result_document(model="llama-1b"), scenario) if r.workload == "infer")
    assert any("--model-class 1B" in note for note in infer.notes)
    infer = next(r for r in econ.rows_from_result(result_document(model="llama-8b"), scenario) if r.workload == "infer")
    assert not any("class" in note for note in infer.notes)


def test_result_watts_missing_are_taken_from_joules_over_seconds():
    document = result_document()
    del document["workloads"][0]["watts"]  # 80 W x 10 s = 800 J stay
    mine = econ.rows_from_result(document, load_scenario())[0]
    assert mine.watts == pytest.approx(80.0)


def test_result_with_zero_watts_is_refused_naming_the_workload():
    document = result_document()
    document["workloads"][0]["watts"] = 0.0
    with pytest.raises(BenchError, match="workload mine: watts"):
        econ.rows_from_result(document, load_scenario())


def test_rows_serialise_to_strict_json_with_the_documented_fields():
    rows = econ.rows_from_result(result_document(), load_scenario(), card_usd=300) + econ.asic_rows(load_scenario())
    for row in rows:
        data = json.loads(json.dumps(row.to_dict(), allow_nan=False))
        for field in ("name", "workload", "source", "watts", "revenue_usd_per_day", "electricity_usd_per_day",
                      "profit_usd_per_day", "revenue_usd_per_kwh", "profit_usd_per_kwh", "profit_usd_per_watt_day",
                      "breakeven", "payback_days"):
            assert field in data
        assert "btc_usd" in data["breakeven"] and "electricity_usd_per_kwh" in data["breakeven"]


def test_render_table_shows_every_row_the_scenario_and_the_notes():
    from rich.console import Console

    scenario = load_scenario("2025-11")
    document = result_document(device_kind="cuda", device_name="NVIDIA H100 80GB HBM3")
    rows = econ.rows_from_result(document, scenario) + econ.asic_rows(scenario)
    console = Console(record=True, width=200)
    console.print(econ.render_table(rows, scenario))
    console.print(econ.render_inputs(scenario))
    text = console.export_text()
    for row in rows:
        assert row.name in text
    assert "scenario 2025-11" in text and "H100" in text  # the training row's note
    assert "published hashprice for 2025-11-03: $43.33/PH/s/day and 0.00040577 BTC" in text
    assert "computed from these inputs: $43.37 and 0.00040553 BTC" in " ".join(text.split())


@pytest.mark.parametrize("value, text", [
    (None, "-"), (0.0, "0"), (0.0123, "0.0123"), (1234.4, "1,234"), (-2.5e9, "-2.5B"), (1.1e-6, "0.0000011"),
])
def test_fmt_keeps_three_significant_digits_and_scales_large_numbers(value, text):
    assert econ.fmt(value) == text


def test_model_class_is_read_from_the_shape_the_infer_workload_records():
    # bench/workloads/infer.py stores the whole shape, e.g. {"name": "llama-1b", "n_layers": 16, ...}
    document = result_document(model="llama-1b")
    infer_entry = next(w for w in document["workloads"] if w["name"] == "infer")
    infer_entry["config"]["model"] = {"name": "llama-1b", "n_layers": 16, "d_model": 2048}
    infer = next(r for r in econ.rows_from_result(document, load_scenario()) if r.workload == "infer")
    assert any("'llama-1b' is 1B class" in note for note in infer.notes)


def test_the_stress_case_is_labelled_constructed_and_claims_no_published_figure():
    scenario = load_scenario("2026-02-low")
    assert "constructed" in scenario.description and scenario.published_hashprice is None


@pytest.mark.parametrize("name", scenario_names())
def test_every_shipped_scenario_reproduces_its_published_hashprice_or_says_it_is_constructed(name):
    scenario = load_scenario(name)
    if scenario.published_hashprice is None:
        assert "constructed" in scenario.description
    else:
        assert rel(econ.scenario_hashprice_usd_per_phs_day(scenario), scenario.published_hashprice.value) < 0.01
    if scenario.published_btc_hashprice is not None:
        assert rel(econ.scenario_hashprice_btc_per_phs_day(scenario), scenario.published_btc_hashprice.value) < 0.002
