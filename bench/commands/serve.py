"""``bench serve``: an inference service under a seeded Poisson trace with continuous batching,
and with ``--mine-idle`` the same trace again mining in its gaps (bench/workloads/serve.py),
saved as a result file with one workload, ``serve``, and priced per kWh both ways."""

from __future__ import annotations

import click

from bench.commands.switch import finish, meter_options, positive_float, positive_int, single_workload_run


@click.command()
@meter_options
@click.option("--rate", "rate_per_s", type=positive_float, help="Requests per second (Poisson).")
@click.option("--utilization", type=click.FloatRange(min=0.0, max=1.0, min_open=True),
              help="Load as the fraction of time one-at-a-time serving would be busy (default 0.5).")
@click.option("--seconds", type=positive_float, help="Trace length (default by preset: 5, 60, 600 s).")
@click.option("--mine-idle", is_flag=True, help="Also serve the trace mining whenever no request is in flight.")
@click.option("--chunk-ms", type=positive_float, default=20.0, show_default=True,
              help="Gap mining: one chunk's target length, the most a request waits for mining to yield.")
@click.option("--slots", type=positive_int, help="Sequences the KV cache holds (default: the preset's batch, at least 8).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the trace and the prompts.")
def serve(device_spec: str, preset: str, out_dir: str, threads: int | None, kernel: str | None, model: str | None,
          dtype: str | None, cpu_tdp_watts: float | None, watts: float | None, watts_command: str | None,
          rate_per_s: float | None, utilization: float | None, seconds: float | None, mine_idle: bool,
          chunk_ms: float, slots: int | None, seed: int) -> int:
    """Serve a request trace with continuous batching; optionally mine in the gaps."""
    from bench.economics.measured import serve_rows
    from bench.market import load_scenario
    from bench.workloads.serve import ServeWorkload

    def make(device):
        return ServeWorkload.for_preset(preset, device, model=model, dtype=dtype, rate_per_s=rate_per_s,
                                        utilization=utilization, seconds=seconds, mine_idle=mine_idle,
                                        chunk_ms=chunk_ms, slots=slots, seed=seed, threads=threads, kernel=kernel)

    document, path, result = single_workload_run(
        device_spec, preset, out_dir, dict(cpu_tdp_watts=cpu_tdp_watts, watts=watts, watts_command=watts_command),
        make)
    entry = document["workloads"][0]
    for phase in entry.get("phases", []):
        d = phase["derived"]
        line = (f"{phase['name']}: {d['requests']} requests, {d['output_tokens']} tokens in {phase['seconds']:.2f} s "
                f"at {d['rate_per_s']:.3g} req/s, max batch {d['max_batch']}; ttft p50 {d['ttft_s']['p50']:.4f} "
                f"p99 {d['ttft_s']['p99']:.4f} s; tpot p50 {_s(d['tpot_s']['p50'])} p99 {_s(d['tpot_s']['p99'])} s; "
                f"{phase['joules']:.3g} J ({phase['energy_kind']})")
        if phase["name"] == "serve-mine-idle":
            line += (f"; {d['hashes']:.4g} hashes mined in {d['mining_chunks']} chunks (max {_s(d['mining_chunk_s']['max'])} s,"
                     f" target {d['chunk_target_s']:g} s); p99 ttft cost {d['ttft_p99_cost_s']:+.4f} s")
        click.echo(line)
    workload = result.workload("serve")
    if workload is not None and workload.ok:
        scenario = load_scenario()
        for row in serve_rows(workload, scenario):
            what = "serving alone" if row.phase == "serve" else "serving + gap mining"
            click.echo(f"{what}: revenue ${row.revenue_usd_per_kwh:.4g}/kWh (tokens {row.tokens_usd_per_kwh:.4g}, "
                       f"mining {row.mining_usd_per_kwh:.4g}), profit ${row.profit_usd_per_kwh:.4g}/kWh, "
                       f"scenario {scenario.name}; energy {row.energy_source}")
    return finish(document, path)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
