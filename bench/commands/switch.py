"""``bench switch``: seconds and joules of switching one device from mining to inference and back
(bench/workloads/switch.py), saved as a result file with one workload, ``switch``.

``single_workload_run`` is the frame ``bench switch`` and ``bench serve`` share: the idle
baseline, one workload measured by its own loop, the document saved once, SIGTERM/SIGHUP
turned into an interrupt (termination.py) so nothing is left half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from bench.protocol import PRESETS

positive_int = click.IntRange(min=1)
positive_float = click.FloatRange(min=0.0, min_open=True)


def meter_options(function: Callable) -> Callable:
    """The meter and output options every measuring command takes, as ``bench run`` spells them."""
    for option in reversed((
        click.option("--device", "device_spec", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--preset", type=click.Choice(list(PRESETS)), default="quick", show_default=True),
        click.option("--out", "out_dir", type=click.Path(), default="results", show_default=True,
                     help="Directory for result files (<machine>/<timestamp>_<device>.json)."),
        click.option("--threads", type=positive_int, help="Mining on CPU: worker threads (default: all cores)."),
        click.option("--kernel", type=click.Choice(["auto", "sha-ni", "simd"]), default=None,
                     help="Mining on CPU: kernel variant."),
        click.option("--model", help="Model shape (tiny, gpt2-124m, llama-1b, llama-8b); default: the preset's."),
        click.option("--dtype", type=click.Choice(("float32", "bfloat16", "float16"))),
        click.option("--cpu-tdp-watts", type=positive_float, help="Estimated meter: the CPU's TDP."),
        click.option("--watts", type=positive_float, help="A wall-meter reading in watts (constant draw)."),
        click.option("--watts-command", help="A command printing the draw in watts; sampled."),
    )):
        function = option(function)
    return function


def single_workload_run(
    device_spec: str, preset: str, out_dir: str, meter_inputs: dict[str, Any],
    make: Callable[[Any], Any],
) -> tuple[dict[str, Any], Path, Any]:
    """Resolve the device, make the workload for it, pick the meter, measure the idle baseline, then
    the workload (its own ``measure``); save the document. Returns (document, path, Result)."""
    from bench import fingerprint, runner, storage, termination
    from bench.cli import _writable_dir
    from bench.devices import resolve_device
    from bench.meters import select_meter
    from bench.results import parse_result

    protocol = runner.protocol_for(preset)
    device = resolve_device(device_spec)
    folder = _writable_dir(_writable_dir(Path(out_dir)) / fingerprint.machine_name())
    workload = make(device)  # options are checked before anything is measured
    meter = select_meter(device, **meter_inputs)
    previous = termination.install_handlers()
    try:
        document = runner.new_document(
            tool=fingerprint.tool_info(), machine=fingerprint.machine_info(),
            device=fingerprint.device_info(device), protocol=protocol, meter=meter.describe(),
        )
        click.echo(f"{workload.name} on {device.name} ({device.torch_device}), preset {preset}, "
                   f"energy: {document['meter'].get('label', meter.name)}", err=True)
        document["idle"] = runner.measure_idle(meter, device, protocol.idle_s)
        try:
            entry = workload.measure(meter, protocol, idle_watts=document["idle"]["watts"])
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # recorded in the file, as the runner records a failed workload
            entry = runner.failed_entry(workload, exc)
        finally:
            close = getattr(workload, "close", None)
            if close is not None:
                close()
        document["workloads"].append(entry)
        ok = entry["status"] == "ok"
        document["status"] = "complete" if ok else "partial"
        document["partial_reason"] = None if ok else f"failed: {workload.name}"
        path = storage.new_result_path(Path(out_dir), folder.name, device.slug)
        storage.write_atomic(path, storage.clean_floats(document), exclusive=True)
    finally:
        meter.close()
        termination.restore_handlers(previous)
    return document, path, parse_result(storage.clean_floats(document), str(path))


def finish(document: dict[str, Any], path: Path) -> int:
    """The saved line and, for a failed workload, its error; the exit code."""
    click.echo(f"saved {document['status']} result to {path}")
    failed = [w for w in document["workloads"] if w["status"] != "ok"]
    for entry in failed:
        click.echo(f"error: workload {entry['name']} failed: {entry['error']}", err=True)
    return 1 if failed else 0


@click.command()
@meter_options
@click.option("--repeats", type=positive_int, help="Switches each way (default: the preset's windows).")
@click.option("--batch-size", type=positive_int, help="infer side: sequences decoded together.")
@click.option("--prompt-tokens", type=positive_int)
@click.option("--output-tokens", type=positive_int)
def switch(device_spec: str, preset: str, out_dir: str, threads: int | None, kernel: str | None, model: str | None,
           dtype: str | None, cpu_tdp_watts: float | None, watts: float | None, watts_command: str | None,
           repeats: int | None, batch_size: int | None, prompt_tokens: int | None, output_tokens: int | None) -> int:
    """Measure switching from mining to inference and back: seconds and joules per direction."""
    from bench.units import si
    from bench.workloads.switch import PARTS, SwitchWorkload

    def make(device):
        return SwitchWorkload.for_preset(preset, device, threads=threads, kernel=kernel, model=model, dtype=dtype,
                                         batch_size=batch_size, prompt_tokens=prompt_tokens,
                                         output_tokens=output_tokens, repeats=repeats)

    document, path, _result = single_workload_run(
        device_spec, preset, out_dir, dict(cpu_tdp_watts=cpu_tdp_watts, watts=watts, watts_command=watts_command),
        make)
    entry = document["workloads"][0]
    for phase in entry.get("phases", []):
        d = phase["derived"]
        s, j = d["seconds_per_switch"], d["joules_per_switch"]
        above = d.get("joules_above_idle_per_switch")
        parts = ", ".join(f"{p} {d['parts_median_s'][p]:.3f}" for p in PARTS)
        click.echo(
            f"{phase['name']}: {s['median']:.3f} s [{s['min']:.3f}-{s['max']:.3f}], {si(j['median'])}J gross"
            + (f", {si(above['median'])}J above idle" if above else "")
            + f" (median of {s['n']}; {phase['energy_source']}); parts s: {parts}"
        )
    return finish(document, path)
