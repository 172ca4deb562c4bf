"""Economics rows for measured devices (merged result files) and the datasheet ASICs.

mine -> mining; infer -> AI serving the workload's requests (prompt tokens through prefill at the
input price, output tokens through decode at the output price; or, with ``infer_pricing="rental"``,
a rented GPU-hour); train -> AI priced as GPU rental at the device's own GPU model's rate, and not
at all for a device without one. Mining and inference of the same device are paired for the flip
price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from bench import market
from bench.economics.rows import EconomicsRow, ai_row, mining_row, pair
from bench.energy import EnergyKind
from bench.market import Scenario

if TYPE_CHECKING:
    from bench.compare.merge import DeviceRuns
    from bench.result_model import Result, Workload

# Model names of the infer/train workloads and the token-price class they belong to.
_MODEL_CLASSES = {"llama-8b": "8B", "llama-1b": "1B"}


def rows_for_device(
    device: DeviceRuns, scenario: Scenario, *, card_usd: float | None = None, infer_pricing: str = "tokens",
) -> list[EconomicsRow]:
    """Economics rows for every workload of ``device`` that can be priced here (``unpriced`` says
    which cannot, and why)."""
    figures = device.figures
    rows: dict[str, EconomicsRow] = {}
    common: dict[str, Any] = {"card_usd": card_usd, "device": device.name, "idle_watts": device.idle_watts or 0.0}
    idle_note = () if device.idle_watts is not None else ("no idle baseline in the result: idle hours drawn as 0 W",)
    rate = market.gpu_hour_usd(scenario, device.name, device.kind)
    rental: dict[str, Any] = {"gpu_hour_usd": rate.value if rate else None}
    rental_note: tuple[str, ...] = ()
    if rate is not None:
        whose = "the rate given" if rate.source.startswith("user") else f"the {rate.source.split(':')[0]} list rate"
        rental_note = (f"rented at ${rate.value:g}/GPU-hour, {whose}",)
    if "mine" in figures:
        mine = figures["mine"]
        rows["mine"] = mining_row(
            f"{device.name} mine", mine.rate_per_s, mine.watts, scenario, source=mine.energy_kind,
            source_detail=mine.energy_source, notes=idle_note, **common,
        )
    if "infer" in figures and (infer_pricing == "tokens" or rate is not None):
        infer = figures["infer"]
        output_tokens_per_s, watts, prompt_per_output = _request_mix(infer)
        notes = (*idle_note, *(_model_class_notes(infer.config, scenario) if infer_pricing == "tokens" else rental_note))
        rows["infer"] = ai_row(
            f"{device.name} infer", output_tokens_per_s, watts, scenario, workload="infer",
            pricing=infer_pricing, source=infer.energy_kind, source_detail=infer.energy_source, notes=notes,
            input_tokens_per_output_token=prompt_per_output if infer_pricing == "tokens" else 0.0,
            **rental, **common,
        )
    if "train" in figures and rate is not None:
        train = figures["train"]
        rows["train"] = ai_row(
            f"{device.name} train", train.rate_per_s, train.watts, scenario, workload="train", pricing="rental",
            source=train.energy_kind, source_detail=train.energy_source, notes=(*idle_note, *rental_note),
            **rental, **common,
        )
    if "mine" in rows and "infer" in rows:
        rows["mine"], rows["infer"] = pair(rows["mine"], rows["infer"], scenario)
    return list(rows.values())


def unpriced(device: DeviceRuns, scenario: Scenario, *, infer_pricing: str = "tokens") -> list[str]:
    """Why a workload of ``device`` has no economics row: no energy figure to price per kWh, or no
    GPU-hour market for this device."""
    out = [f"{device.name} {w}: not priced: {why}" for w, why in device.not_run.items()
           if why.startswith("no energy figure")]
    if market.gpu_hour_usd(scenario, device.name, device.kind) is not None:
        return out
    kind = "GPU model" if device.kind == "cuda" else device.kind or "device"
    why = (f"no GPU-hour rental rate for this {kind} (rates are listed by GPU model, and a device never "
           "borrows another's): give one with --set gpu_hour_usd=...")
    wanted = ["train"] + (["infer"] if infer_pricing == "rental" else [])
    return out + [f"{device.name} {w}: not priced: {why}" for w in wanted if w in device.figures]


def _request_mix(infer: Any) -> tuple[float, float, float]:
    """(output tokens/s, watts, prompt tokens per output token) of serving the workload's requests:
    each brings ``prompt_tokens`` through prefill and generates ``output_tokens`` through decode,
    so a request's time and energy are those of both phases at their measured rates and draws.
    Without both phases' figures or lengths, decode alone."""
    decode = infer.phases.get("decode")
    prefill = infer.phases.get("prefill")
    prompt, output = infer.config.get("prompt_tokens"), infer.config.get("output_tokens")
    if decode is None or prefill is None or not _positive_number(prompt) or not _positive_number(output):
        return infer.rate_per_s, infer.watts, 0.0
    seconds = prompt / prefill.rate_per_s + output / decode.rate_per_s
    joules = prompt / prefill.rate_per_s * prefill.watts + output / decode.rate_per_s * decode.watts
    return output / seconds, joules / seconds, prompt / output


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def rows_from_result(
    result: Result | Mapping[str, Any], scenario: Scenario, *, card_usd: float | None = None,
    infer_pricing: str = "tokens",
) -> list[EconomicsRow]:
    """``rows_for_device`` of one result (a ``Result``, or a document, which is checked first)."""
    from bench.compare.merge import Loaded, merge_devices
    from bench.result_model import Result
    from bench.results import parse_result

    if not isinstance(result, Result):
        result = parse_result(result)
    [device] = merge_devices([Loaded("result", result)])
    return rows_for_device(device, scenario, card_usd=card_usd, infer_pricing=infer_pricing)


def _model_class_notes(config: Mapping[str, Any], scenario: Scenario) -> tuple[str, ...]:
    model = config.get("model")
    if isinstance(model, Mapping):  # infer/train record the whole shape; its name says the class
        model = model.get("name")
    if model is None:
        return ()
    measured_class = _MODEL_CLASSES.get(str(model))
    if measured_class == scenario.model_class:
        return ()
    if measured_class is None:
        return (f"model {model!r} is not of the {scenario.model_class} class whose token price is used: "
                f"its tokens/J are not what a {scenario.model_class} model would earn",)
    return (f"model {model!r} is {measured_class} class but tokens are priced as {scenario.model_class} class "
            f"(use --model-class {measured_class})",)


def asic_rows(scenario: Scenario, card_prices: Mapping[str, float] | None = None) -> list[EconomicsRow]:
    """The datasheet ASICs (bench/data/asics.json) mining under ``scenario``, each at the price the
    user gave (``card_prices``: slug of its name -> USD) or else its sourced price, if it has one."""
    from bench.asics import asic_specs
    from bench.devices import slugify

    rows = []
    for spec in asic_specs():
        given = (card_prices or {}).get(slugify(spec.name))
        if given is not None:
            price, notes = given, (f"price ${given:,.0f}: --card-price",)
        elif spec.price is not None:
            price, notes = spec.price.usd, (f"price ${spec.price.usd:,.0f} ({spec.price.date}): {spec.price.source}",)
        else:
            price, notes = None, ()
        rows.append(mining_row(
            spec.name, spec.hashes_per_s, spec.watts, scenario, source=EnergyKind.DATASHEET, device=spec.name,
            source_detail=f"datasheet ({spec.date}): {spec.source}", card_usd=price, notes=notes,
        ))
    return rows




@dataclass(frozen=True)
class ServeRow:
    """One pass of ``bench serve``: its output tokens at the token price, plus the hashes it mined
    in the gaps paid FPPS, per kWh the device drew over the whole pass (idle gaps included)."""

    phase: str  # "serve" (serving alone) or "serve-mine-idle" (serving plus gap mining)
    energy_source: str
    tokens_usd_per_kwh: float
    mining_usd_per_kwh: float
    revenue_usd_per_kwh: float
    profit_usd_per_kwh: float  # revenue less PUE x electricity price


def serve_rows(workload: Workload, scenario: Scenario) -> list[ServeRow]:
    """Revenue per kWh of serving alone and of serving plus gap mining (a ``serve`` workload)."""
    from bench.economics.rows import JOULES_PER_KWH, mining_usd_per_hash, usd_per_token

    rows = []
    for phase in workload.phases:
        figures, derived = phase.figures, phase.details.get("derived", {})
        kwh = figures.joules / JOULES_PER_KWH
        tokens = (figures.work or 0) * usd_per_token(scenario) / kwh
        mining = float(derived.get("hashes", 0)) * mining_usd_per_hash(scenario) / kwh
        rows.append(ServeRow(phase.name, figures.energy_source, tokens, mining, tokens + mining,
                             tokens + mining - scenario.get("pue") * scenario.get("electricity_usd_per_kwh")))
    return rows
