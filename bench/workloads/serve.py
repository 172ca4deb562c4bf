"""Workload ``serve``: an inference service under a seeded Poisson trace, alone and with mining
in its gaps (the scheduler and trace: bench/serving.py).

  serve             the trace served with continuous batching; idle gaps idle.
  serve-mine-idle   (with mine_idle) the same trace and prompts again, mining whenever no request
                    is waiting or in flight, in chunks of about ``chunk_ms``; the cost in latency
                    is this phase's p99 time to first token against ``serve``'s.

Each phase is one meter window over its whole pass (a window edge can wait for a counter update,
so the pass is never cut into windows mid-trace); its work is the output tokens served, and
``derived`` carries requests, tokens, ttft_s and tpot_s (p50, p99, max), hashes mined in the gaps
and the measured chunk durations, the bound on how long mining can hold a request.

Load: ``rate_per_s`` requests per second, or ``utilization`` U: rate = U / the seconds one request
takes served alone (prefill plus its decode steps at batch 1, measured at build).
Self-check: both passes generate the same ids for every request (batching must not change the
tokens), and the gap miner's shares are re-hashed with hashlib.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.protocol import Protocol, Window, phase_entry
from bench.meters.base import Meter
from bench.workloads.base import Phase, check_preset
from bench.workloads.infer import InferWorkload
from bench.workloads.mine import MineConfig, MineWorkload, share_target_for

SECONDS = {"quick": 5.0, "standard": 60.0, "long": 600.0}  # trace length by preset
MIN_SLOTS = 8  # KV-cache rows: the preset's infer batch, at least this many
DEFAULT_UTILIZATION = 0.5
DEFAULT_CHUNK_MS = 20.0
PHASES = ("serve", "serve-mine-idle")


@dataclass(frozen=True)
class ServeConfig:
    preset: str
    device_kind: str
    rate_per_s: float | None
    utilization: float | None
    seconds: float
    mine_idle: bool
    chunk_ms: float
    slots: int
    seed: int
    threads: int | None
    kernel: str | None


def _positive(name: str, value: float | None, upper: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value \
            or (upper is not None and value > upper) or value == float("inf"):
        bound = f" and at most {upper:g}" if upper is not None else ""
        raise BenchError(f"{name} must be a positive number{bound}, got {value!r}")


class ServeWorkload:
    name = "serve"

    def __init__(self, config: ServeConfig, infer: InferWorkload, device: Device):
        self._config = config
        self._device = device
        self._infer = infer  # model, lengths and dtype, checked; the model is built here, not by infer
        self._rate_basis: dict[str, Any] = {}
        self._miner: MineWorkload | None = None
        self._decode_check: dict[str, Any] = {}

    @classmethod
    def for_preset(cls, preset: str, device: Device, *, model: str | None = None, dtype: str | None = None,
                   rate_per_s: float | None = None, utilization: float | None = None, seconds: float | None = None,
                   mine_idle: bool = False, chunk_ms: float = DEFAULT_CHUNK_MS, slots: int | None = None,
                   seed: int = 0, threads: int | None = None, kernel: str | None = None) -> "ServeWorkload":
        device_kind = device.kind
        check_preset(preset, device_kind)
        if rate_per_s is not None and utilization is not None:
            raise BenchError("--rate and --utilization both given: choose one way to set the load")
        _positive("--rate", rate_per_s)
        _positive("--utilization", utilization, upper=1.0)
        _positive("--seconds", seconds)
        _positive("--chunk-ms", chunk_ms)
        infer = InferWorkload.for_preset(preset, device, model=model, dtype=dtype)
        slots = slots or max(infer.batch_size, MIN_SLOTS)
        if utilization is None and rate_per_s is None:
            utilization = DEFAULT_UTILIZATION
        if mine_idle:  # refused here, not after the first pass
            MineWorkload.for_preset(preset, device, threads=threads, variant=kernel)
            if device_kind == "cuda":
                from bench.devices import require_cuda_compiler

                require_cuda_compiler()
        config = ServeConfig(preset, device_kind, rate_per_s, utilization, seconds or SECONDS[preset], mine_idle,
                             chunk_ms, slots, seed, threads, kernel)
        return cls(config, infer, device)

    def config(self) -> dict[str, Any]:
        infer = self._infer.config()
        return {
            **{k: v for k, v in asdict(self._config).items() if k not in ("device_kind",)},
            "model": infer["model"], "dtype": infer["dtype"],
            "prompt_tokens": self._infer.prompt_tokens, "output_tokens": self._infer.output_tokens,
            "trace": "Poisson arrivals (seeded), fixed prompt and output lengths, greedy without end-of-sequence stop",
            "scheduler": "continuous batching: waiting requests prefilled together into free KV-cache slots, "
                         "then one decode step for every sequence in flight, each at its own position",
            "decode": "eager, per-row positions (bench/serving.py decode_rows)",
        }

    def source_files(self) -> list[Path]:
        from bench import serving

        here = Path(__file__).parent
        return [Path(__file__), Path(serving.__file__), here / "mine.py", *self._infer.source_files()]

    # -- measurement ---------------------------------------------------------------------------
    def measure(self, meter: Meter, protocol: Protocol, *, idle_watts: float | None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
        """Both passes of the trace on the workload's device; its entry for the result document."""
        from bench import serving

        device = self._device
        from bench.runner import HEADLINE_FIELDS, source_sha256

        t0 = clock()
        server, build = self._build(device, clock)
        build["seconds"] = clock() - t0
        config = self._config
        rate = config.rate_per_s or config.utilization / self._rate_basis["request_alone_s"]
        trace = serving.poisson_trace(rate, config.seconds, self._infer.prompt_tokens, self._infer.output_tokens,
                                      config.seed)
        if not trace:
            raise BenchError(f"the trace at {rate:.3g} requests/s over {config.seconds:g} s has no request: "
                             "raise --rate, --utilization or --seconds")
        passes = {"serve": None}
        if config.mine_idle:
            passes["serve-mine-idle"] = self._miner.step
        records, windows = {}, {}
        for name, mine_chunk in passes.items():
            device.synchronize()
            meter.begin(f"serve/{name}")
            record = server.run(trace, mine_chunk=mine_chunk, clock=clock)
            measurement = meter.end(f"serve/{name}")
            if measurement.joules <= 0:
                raise BenchError(f"serve/{name}: meter {meter.name} read {measurement.joules} J over "
                                 f"{record.seconds:.3f} s; a pass must be many meter update periods long")
            records[name] = record
            windows[name] = Window(steps=record.iterations, seconds=record.seconds, work=record.output_tokens,
                                   joules=measurement.joules, meter_seconds=measurement.seconds,
                                   meter_details=measurement.details)
        check = self._check(records, len(trace))
        phases = []
        for name, record in records.items():
            entry = phase_entry(Phase(name, "tokens", _not_stepped), [windows[name]], meter, 0.0, 0, idle_watts)
            entry["warmup"] = {"seconds": build["warm_up_s"], "steps": 1,
                               "note": "one request served alone at build (also the utilization basis)"}
            derived = serving.latency_figures(record)
            derived.update(rate_per_s=rate, trace_seconds=config.seconds, energy_source=entry["energy_source"],
                           hashes_per_s=record.hashes / record.seconds,
                           hashes_per_joule=record.hashes / windows[name].joules,
                           pass_shorter_than_meter_minimum=windows[name].meter_seconds < meter.min_window_s)
            if name == "serve-mine-idle":
                alone = serving.latency_figures(records["serve"])
                derived["chunk_target_s"] = config.chunk_ms / 1000
                derived["ttft_p99_cost_s"] = derived["ttft_s"]["p99"] - alone["ttft_s"]["p99"]
                derived["tpot_p99_cost_s"] = derived["tpot_s"]["p99"] - alone["tpot_s"]["p99"] \
                    if derived["tpot_s"]["p99"] is not None and alone["tpot_s"]["p99"] is not None else None
            entry["derived"] = derived
            phases.append(entry)
        headline = phases[0]
        entry: dict[str, Any] = {"name": self.name, "status": "ok", "headline_phase": headline["name"]}
        entry.update({k: headline[k] for k in HEADLINE_FIELDS if k in headline})
        entry.update(source_sha256=source_sha256(self.source_files()), config=self.config(),
                     build={**build, "rate_basis": self._rate_basis}, check=check, phases=phases)
        return entry

    def _build(self, device: Device, clock: Callable[[], float]):
        import torch

        from bench import serving
        from kernels.transformer import build_model

        infer, config = self._infer, self._config
        t0 = clock()
        model = build_model(infer.cfg, torch.device(device.torch_device), infer.dtype, infer.seed,
                            max_positions=infer.prompt_tokens + infer.output_tokens, init_std=infer.init_std).eval()
        matmul = model.pack_linears_for_cpu(config.slots) if device.kind == "cpu" else "torch.nn.Linear"
        server = serving.Server(model, device, config.slots, infer.prompt_tokens, infer.output_tokens, config.seed)
        build: dict[str, Any] = {"model_init_s": clock() - t0, "matmul": matmul}
        self._decode_check = self._check_decode_rows(model, server)
        # One request alone, twice: the first warms up lazy initialisation, the second is the basis.
        alone = [serving.Request(-1, 0.0, infer.prompt_tokens, infer.output_tokens)]
        t0 = clock()
        server.run(alone, clock=clock)
        t1 = clock()
        served = server.run(alone, clock=clock)
        build["warm_up_s"] = t1 - t0
        self._rate_basis = {"request_alone_s": served.seconds,
                            "basis": "one request (prefill and its decode steps at batch 1) served alone"}
        if config.mine_idle:
            build["miner"] = self._build_miner(device, clock)
        return server, build

    def _check_decode_rows(self, model, server) -> dict[str, Any]:
        """decode_rows (a position per row) against the model's own decode (one position for the
        batch) on the same cache: the logits must agree within infer's tolerance for the dtype."""
        import torch

        from bench import serving
        from bench.workloads.infer import _CHECK_TOLERANCE

        infer, slots = self._infer, self._config.slots
        device = server.torch_device
        with torch.inference_mode():
            prompts = torch.stack([server.prompt(serving.Request(i, 0.0, infer.prompt_tokens, 1)) for i in range(slots)])
            ids = model.prefill(prompts.to(device), rows=slice(0, slots)).argmax(dim=-1)
            want = model.decode(ids.view(-1, 1), infer.prompt_tokens).float()
            rows = torch.arange(slots, device=device)
            got = serving.decode_rows(model, rows, ids, torch.full_like(rows, infer.prompt_tokens)).float()
            error = float((got - want).abs().max() / want.abs().max())
        tolerance = _CHECK_TOLERANCE[infer.dtype]
        if not error <= tolerance:
            raise WorkloadCheckFailed(f"serve: per-row decode differs from the model's decode by {error:.3g} "
                                      f"(relative, allowed {tolerance:g})")
        return {"decode_rows_vs_model_decode_relative_error": error, "tolerance": tolerance}

    def _build_miner(self, device: Device, clock: Callable[[], float]) -> dict[str, Any]:
        """A miner whose step is one chunk of about ``chunk_ms`` at the hash rate measured here."""
        from kernels import sha256d_cpu

        config = self._config
        threads = None if device.kind == "cuda" else (config.threads or sha256d_cpu.default_threads())
        variant = "cuda" if device.kind == "cuda" else (config.kernel or "auto")

        def miner(nonces: int) -> tuple[MineWorkload, dict[str, Any]]:
            work = MineWorkload(MineConfig(device.kind, threads, nonces, share_target_for(nonces), variant), device)
            return work, work.build().details

        probe_nonces = 2**26 if device.kind == "cuda" else 2**16 * threads
        probe, _ = miner(probe_nonces)
        probe.step()  # the first step may include lazy initialisation
        device.synchronize()
        t0 = clock()
        for _ in range(3):
            probe.step()
        device.synchronize()
        rate = 3 * probe_nonces / (clock() - t0)
        granule = 2**12 * (threads or 256)
        nonces = max(granule, int(rate * config.chunk_ms / 1000) // granule * granule)
        self._miner, details = miner(nonces)
        return {"nonces_per_chunk": nonces, "probe_hashes_per_s": rate, "build": details}

    def _check(self, records, requests: int) -> dict[str, Any]:
        """Every request served in every pass with in-range ids. Ids may differ between passes where
        batching changed a near-tie's last bits (random weights give flat logits): counted, not
        failed; the per-row decode itself is checked against the model's own at build."""
        first = records["serve"]
        vocab = self._infer.cfg.vocab_size
        for name, record in records.items():
            if len(record.served) != requests:
                raise WorkloadCheckFailed(f"serve/{name}: {len(record.served)} of {requests} requests served")
            if any(not 0 <= t < vocab for ids in record.ids.values() for t in ids):
                raise WorkloadCheckFailed(f"serve/{name}: generated ids outside [0, {vocab})")
        check: dict[str, Any] = {
            "requests_served": requests, "ids_in_range": True, **self._decode_check,
            "requests_with_other_ids_than_the_serve_pass": {
                name: sum(record.ids[i] != first.ids.get(i) for i in record.ids) for name, record in records.items()},
        }
        if self._miner is not None:
            check["gap_mining"] = self._miner.check()
        return check

    def close(self) -> None:
        self._miner = None


def _not_stepped() -> int:
    raise BenchError("serve phases are measured by ServeWorkload.measure, not stepped by the runner")
