"""Market inputs: the shipped scenarios are complete and sourced; overrides are checked and traced."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest

from bench import market
from bench.errors import BenchError
from bench.market import KEYS, load_scenario, parse_catalog, subsidy_btc_at_height

DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?|-Q[1-4])?$")


def shipped_document() -> dict:
    from importlib import resources

    return json.loads(resources.files("bench").joinpath("data", "markets.json").read_text(encoding="utf-8"))


def test_every_shipped_scenario_has_every_input_with_unit_date_and_source():
    names = market.scenario_names()
    assert len(names) >= 3
    for name in names:
        scenario = load_scenario(name)
        assert set(scenario.values) == set(KEYS) - market.OPTIONAL_KEYS
        for key, value in scenario.values.items():
            assert value.unit == KEYS[key].unit, key
            assert DATE.match(value.date), (name, key, value.date)
            assert len(value.source) > 20, (name, key)  # a citation, not a placeholder word
            assert KEYS[key].check(value.value) and math.isfinite(value.value), (name, key)


def test_values_without_a_source_for_their_date_say_they_are_assumptions():
    # The February stress case has no fee figure of its own: it must say so, not pass it off.
    fees = load_scenario("2026-02-low").values["fees_btc_per_block"]
    assert fees.source.startswith("assumption:")


def test_default_scenario_is_shipped_and_loaded_without_a_name():
    assert market.DEFAULT_SCENARIO in market.scenario_names()
    assert load_scenario().name == market.DEFAULT_SCENARIO


def test_shipped_subsidy_is_the_consensus_subsidy_at_a_2026_height():
    # Block 931,392 is the 2026-01-08 difficulty adjustment (Hashrate Index / CoinWarz).
    for name in market.scenario_names():
        assert load_scenario(name).get("subsidy_btc") == subsidy_btc_at_height(931_392) == 3.125


def test_subsidy_halves_at_840000_and_1050000():
    assert subsidy_btc_at_height(0) == 50.0
    assert subsidy_btc_at_height(839_999) == 6.25
    assert subsidy_btc_at_height(840_000) == 3.125
    assert subsidy_btc_at_height(1_049_999) == 3.125
    assert subsidy_btc_at_height(1_050_000) == 1.5625
    # 50 BTC = 5e9 satoshi; shifted right 33 times it is 0 (2^32 < 5e9 < 2^33).
    assert subsidy_btc_at_height(33 * 210_000) == 0.0
    with pytest.raises(BenchError, match="height"):
        subsidy_btc_at_height(-1)


def test_set_override_replaces_the_value_and_says_it_came_from_the_user():
    scenario = load_scenario("2026-01", overrides=["btc_usd=65000", "pue=1.2"])
    assert scenario.get("btc_usd") == 65000.0
    assert scenario.get("pue") == 1.2
    assert scenario.values["btc_usd"].source == "user: --set btc_usd=65000"
    assert scenario.values["btc_usd"].date == "user"
    # The shipped scenario is untouched by an override of a loaded copy.
    assert load_scenario("2026-01").get("btc_usd") == 91132.0


def test_mapping_overrides_are_checked_like_set_strings():
    assert load_scenario(overrides={"difficulty": 1.2e14}).get("difficulty") == 1.2e14
    with pytest.raises(BenchError, match="difficulty"):
        load_scenario(overrides={"difficulty": -1})


def test_free_electricity_is_allowed_but_negative_is_not():
    assert load_scenario(overrides=["electricity_usd_per_kwh=0"]).get("electricity_usd_per_kwh") == 0.0
    with pytest.raises(BenchError, match="electricity_usd_per_kwh"):
        load_scenario(overrides=["electricity_usd_per_kwh=-0.01"])


@pytest.mark.parametrize(
    "override, named",
    [
        ("btc_usd=-5", "btc_usd"),
        ("btc_usd=0", "btc_usd"),
        ("btc_usd=nan", "btc_usd"),
        ("btc_usd=inf", "btc_usd"),
        ("difficulty=0", "difficulty"),
        ("usd_per_million_tokens=0", "usd_per_million_tokens"),
        ("pool_fee=1", "pool_fee"),
        ("pue=0.9", "pue"),
        ("utilization=0", "utilization"),
        ("gpu_hour_usd=-2", "gpu_hour_usd"),
        ("btc_usd=abc", "btc_usd"),
        ("btc_usd", "btc_usd"),
        ("hashprice=40", "hashprice"),
    ],
)
def test_bad_override_is_refused_with_an_error_naming_the_input(override, named):
    with pytest.raises(BenchError) as info:
        load_scenario(overrides=[override])
    message = str(info.value)
    assert named in message and "\n" not in message


def test_unknown_scenario_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(BenchError, match=r"unknown scenario 'mars'.*2026-01"):
        load_scenario("mars")


def test_get_of_an_unknown_key_names_it():
    with pytest.raises(BenchError, match="'hashprice'"):
        load_scenario().get("hashprice")


def test_user_file_values_apply_and_set_wins_over_them(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({
        "btc_usd": {"value": 70000, "unit": "USD/BTC", "date": "2026-03-01"},
        "electricity_usd_per_kwh": {"value": 0.04, "unit": "USD/kWh", "date": "2026-03", "source": "my PPA"},
    }))
    scenario = load_scenario("2026-01", user_file=path, overrides=["btc_usd=71000"])
    assert scenario.get("btc_usd") == 71000.0
    assert scenario.get("electricity_usd_per_kwh") == 0.04
    assert scenario.values["electricity_usd_per_kwh"].source == f"user file {path}: my PPA"
    assert scenario.values["electricity_usd_per_kwh"].date == "2026-03"


def test_user_file_may_nest_its_inputs_under_values(tmp_path):
    path = tmp_path / "nested.json"
    path.write_text(json.dumps({"name": "mine", "values": {"pue": {"value": 1.1, "unit": "ratio", "date": "2026"}}}))
    assert load_scenario(user_file=path).get("pue") == 1.1


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"watts": 5}), "unknown market input 'watts'"),
        (json.dumps({"btc_usd": {"value": -1, "unit": "USD/BTC", "date": "2026"}}), "btc_usd"),
        (json.dumps({"btc_usd": 70000}), "btc_usd needs a value, its unit and the date"),
        (json.dumps({"btc_usd": {"value": 60000, "unit": "EUR/BTC", "date": "2026"}}), "must be in USD, not EUR"),
        (json.dumps({"pue": {"value": 1.2, "unit": "percent", "date": "2026"}}), "expected 'ratio'"),
        (json.dumps({"pue": {"value": 1.2, "unit": "ratio"}}), "pue needs a value, its unit and the date"),
        (json.dumps({"pue": {"value": 1.2, "unit": "ratio", "date": "soon"}}), "date 'soon'"),
        (json.dumps([1, 2]), "JSON object"),
    ],
)
def test_bad_user_file_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BenchError, match=message):
        load_scenario(user_file=path)


def test_missing_user_file_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="no such market input file"):
        load_scenario(user_file=tmp_path / "absent.json")


def test_model_class_prices_tokens_at_that_class_with_its_source():
    classes = market.token_price_classes()
    assert set(classes) >= {"1B", "8B", "70B"}
    scenario = load_scenario(model_class="70B")
    assert scenario.model_class == "70B"
    assert scenario.get("usd_per_million_tokens") == classes["70B"].output.value
    assert scenario.values["usd_per_million_tokens"].source == classes["70B"].output.source
    assert scenario.get("usd_per_million_input_tokens") == classes["70B"].input.value
    with pytest.raises(BenchError, match="unknown model class '13B'"):
        load_scenario(model_class="13B")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d["scenarios"]["2026-01"]["values"].pop("btc_usd"), "lacks btc_usd"),
        (lambda d: d["shared_values"]["pue"].pop("source"), "lacks source"),
        (lambda d: d["shared_values"]["pue"].update(source="  "), "no source"),
        (lambda d: d["scenarios"]["2026-01"]["values"]["btc_usd"].update(unit="EUR/BTC"), "expected 'USD/BTC'"),
        (lambda d: d["scenarios"]["2026-01"]["values"]["btc_usd"].update(date="last week"), "date"),
        (lambda d: d.update(default_scenario="nope"), "default_scenario"),
        (lambda d: d.update(format="other"), "not a joulebench market data file"),
    ],
)
def test_market_data_without_a_complete_sourced_value_is_refused(damage, message):
    document = copy.deepcopy(shipped_document())
    damage(document)
    with pytest.raises(BenchError, match=message):
        parse_catalog(document)


def test_a_user_file_price_per_mwh_is_converted_to_per_kwh_and_says_so(tmp_path):
    path = tmp_path / "ppa.json"
    path.write_text(json.dumps({"electricity_usd_per_kwh": {"value": 95, "unit": "USD/MWh", "date": "2026-03"}}))
    value = load_scenario(user_file=path).values["electricity_usd_per_kwh"]
    assert value.value == pytest.approx(0.095) and value.unit == "USD/kWh"
    assert "converted from 95 USD/MWh" in value.source


def test_token_prices_never_fall_with_model_size():
    classes = market.token_price_classes()
    sizes = sorted(classes, key=lambda name: float(name.rstrip("B")))
    for small, large in zip(sizes, sizes[1:]):
        assert classes[small].output.value <= classes[large].output.value
        assert classes[small].input.value <= classes[large].input.value


@pytest.mark.parametrize("override", ["difficulty=1e300", "btc_usd=1e-320", "difficulty=1e-300", "pue=1e9"])
def test_inputs_far_outside_any_market_are_refused(override):
    with pytest.raises(BenchError, match=override.split("=")[0]):
        load_scenario(overrides=[override])


@pytest.mark.parametrize("name, model", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H200", "H200"),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB"), ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"),
    ("NVIDIA B200", "B200"), ("NVIDIA L40S", "L40S"), ("NVIDIA GeForce RTX 4090", "RTX 4090"),
])
def test_a_gpu_rents_at_its_own_models_listed_rate(name, model):
    rate = market.gpu_hour_usd(load_scenario(), name, "cuda")
    assert rate is not None and rate.source.startswith(model + ":") and rate.date


@pytest.mark.parametrize("name, kind", [("AMD EPYC", "cpu"), ("NVIDIA GeForce RTX 3060", "cuda"),
                                        ("NVIDIA H100 80GB HBM3", "cpu")])
def test_a_device_without_a_listed_rate_rents_at_none_unless_one_is_given(name, kind):
    assert market.gpu_hour_usd(load_scenario(), name, kind) is None
    given = market.gpu_hour_usd(load_scenario(overrides=["gpu_hour_usd=0.3"]), name, kind)
    assert given.value == 0.3 and given.source.startswith("user")
