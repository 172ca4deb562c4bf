"""Economics rows for measured devices (merged result files) and the datasheet ASICs.

mine -> mining; infer -> AI from its headline ``decode`` phase, priced per output token (or, with
``infer_pricing="rental"``, as a rented GPU-hour); train -> AI priced as GPU rental. Mining and
inference of the same device are paired for the flip price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from bench.economics.rows import EconomicsRow, ai_row, mining_row, pair
from bench.energy import EnergyKind
from bench.market import Scenario

if TYPE_CHECKING:
    from bench.compare.merge import DeviceRuns
    from bench.result_model import Result

# Model names of the infer/train workloads and the token-price class they belong to.
_MODEL_CLASSES = {"llama-8b": "8B", "llama-1b": "1B"}


def rows_for_device(
    device: DeviceRuns, scenario: Scenario, *, card_usd: float | None = None, infer_pricing: str = "tokens",
) -> list[EconomicsRow]:
    """Economics rows for every workload of ``device`` that has a figure."""
    figures = device.figures
    rows: dict[str, EconomicsRow] = {}
    common: dict[str, Any] = {"card_usd": card_usd, "device": device.name}
    if "mine" in figures:
        mine = figures["mine"]
        rows["mine"] = mining_row(
            f"{device.name} mine", mine.rate_per_s, mine.watts, scenario, source=mine.energy_kind,
            source_detail=mine.energy_source, **common,
        )
    # A CPU (or any non-CUDA device) is not rented out at an H100's hourly rate: say so.
    rental_note = (f"rental rate is for an H100-class GPU; this device is a {device.kind or 'non-GPU device'} "
                   "and would not rent at that rate",) if device.kind != "cuda" else ()
    if "infer" in figures:
        infer = figures["infer"]
        notes = _model_class_notes(infer.config, scenario) if infer_pricing == "tokens" else rental_note
        rows["infer"] = ai_row(
            f"{device.name} infer ({infer.phase})", infer.rate_per_s, infer.watts, scenario, workload="infer",
            pricing=infer_pricing, source=infer.energy_kind, source_detail=infer.energy_source, notes=notes,
            **common,
        )
    if "train" in figures:
        train = figures["train"]
        rows["train"] = ai_row(
            f"{device.name} train", train.rate_per_s, train.watts, scenario, workload="train", pricing="rental",
            source=train.energy_kind, source_detail=train.energy_source, notes=rental_note, **common,
        )
    if "mine" in rows and "infer" in rows:
        rows["mine"], rows["infer"] = pair(rows["mine"], rows["infer"], scenario)
    return list(rows.values())


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


def asic_rows(scenario: Scenario) -> list[EconomicsRow]:
    """The datasheet ASICs (bench/data/asics.json) mining under ``scenario``."""
    from bench.asics import asic_specs

    return [
        mining_row(
            spec.name, spec.hashes_per_s, spec.watts, scenario, source=EnergyKind.DATASHEET, device=spec.name,
            source_detail=f"datasheet ({spec.date}): {spec.source}",
        )
        for spec in asic_specs()
    ]


