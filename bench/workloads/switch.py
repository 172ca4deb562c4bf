"""Workload ``switch``: what it costs one device to go from mining to inference and back.

Each repeat, on the same device, under the run's meter:

  mine-to-infer  from mining at steady state (a finished mining step, the device synchronized) to
                 the first generated token of the ``infer`` model: free the miner, load and
                 allocate the model and its KV cache (random weights: nothing is read from disk,
                 so a real checkpoint's load time comes on top), compile (CUDA: torch.compile of
                 decode and CUDA-graph capture of every attention bucket; CPU: eager, nothing
                 compiled), then the warm-up: prefill of the batch's prompts up to its first token.
  infer-to-mine  from the last generated token of a full greedy decode to the first finished
                 mining step: free the model, cache and compiled graphs (dynamo reset, CUDA cache
                 emptied), build the miner (load and allocate: kernel choice and scanner buffers;
                 compile: the Numba kernel, from its on-disk cache or not, as recorded), then the
                 warm-up: the first mining step until it has finished.

A repeat is one meter window per direction (gross joules; above idle from the run's idle
baseline); the parts are timed with the device synchronized between them, not metered apart
(a meter edge can wait for a counter update, which would lengthen the switch it measures).
The first repeat is the first switch of the process and is kept, marked ``first_in_process``.

Self-check: every repeat's generated ids equal the first repeat's, and every miner's shares are
re-hashed with hashlib (the mine workload's check) before it is freed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.protocol import Protocol, Window, phase_entry
from bench.meters.base import Meter
from bench.stats import spread
from bench.workloads.base import Phase, check_preset, release
from bench.workloads.infer import InferWorkload
from bench.workloads.mine import MineWorkload

PARTS = ("free", "load_allocate", "compile", "warm_up")
DIRECTIONS = ("mine-to-infer", "infer-to-mine")
PART_NOTES = {
    "mine-to-infer": {
        "free": "release the miner (close, gc, CUDA cache emptied)",
        "load_allocate": "model weights allocated and initialised (random, no disk read), CPU weight packing, KV cache",
        "compile": "CUDA: torch.compile of decode and CUDA-graph capture of every bucket; CPU: eager (0 s)",
        "warm_up": "prefill of the batch's prompts up to the first generated token",
    },
    "infer-to-mine": {
        "free": "release model, KV cache and compiled graphs (dynamo reset, gc, CUDA cache emptied)",
        "load_allocate": "miner build less its kernel compile: kernel choice (cached per machine), scanner buffers",
        "compile": "Numba kernel compile or on-disk cache hit (build details: cached)",
        "warm_up": "the first mining step, until it has finished",
    },
}


@dataclass(frozen=True)
class SwitchConfig:
    preset: str
    device_kind: str
    threads: int | None
    kernel: str | None
    repeats: int


class SwitchWorkload:
    name = "switch"

    def __init__(self, config: SwitchConfig, mine: Callable[[], MineWorkload], infer: InferWorkload, device: Device):
        self._config = config
        self._device = device
        self._new_miner = mine  # a fresh miner for each infer-to-mine switch
        self._infer = infer  # its settings (model, batch, lengths, dtype), checked; never built as a whole
        self._miner_config = mine().config()

    @classmethod
    def for_preset(cls, preset: str, device: Device, *, threads: int | None = None, kernel: str | None = None,
                   model: str | None = None, dtype: str | None = None, batch_size: int | None = None,
                   prompt_tokens: int | None = None, output_tokens: int | None = None,
                   repeats: int | None = None, choose: Callable[..., Any] | None = None) -> "SwitchWorkload":
        device_kind = device.kind
        check_preset(preset, device_kind)
        from bench.protocol import protocol_for

        repeats = protocol_for(preset).windows if repeats is None else repeats
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise BenchError(f"repeats must be a positive integer, got {repeats!r}")
        if device_kind == "cuda":  # before anything is measured: the mining kernel cannot compile without them
            from bench.devices import require_cuda_compiler

            require_cuda_compiler()
        infer = InferWorkload.for_preset(preset, device, model=model, dtype=dtype, batch_size=batch_size,
                                         prompt_tokens=prompt_tokens, output_tokens=output_tokens)
        mine = lambda: MineWorkload.for_preset(preset, device, threads=threads, variant=kernel,  # noqa: E731
                                               choose=choose)
        return cls(SwitchConfig(preset, device_kind, threads, kernel, repeats), mine, infer, device)

    def config(self) -> dict[str, Any]:
        return {
            "repeats": self._config.repeats,
            "mine": self._miner_config,
            "infer": self._infer.config(),
            "parts": PART_NOTES,
            "work_unit": "one switch; its seconds and joules are the figures (derived)",
        }

    def source_files(self) -> list[Path]:
        return [Path(__file__), *self._new_miner().source_files(), *self._infer.source_files()]

    # -- measurement ---------------------------------------------------------------------------
    def measure(self, meter: Meter, protocol: Protocol, *, idle_watts: float | None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
        """Every repeat of both directions on the workload's device; its entry for the result document."""
        device = self._device
        import torch
        import torch._dynamo  # noqa: F401 - imported once here, so no switch times its first import (~3 s)

        cfg = self._infer
        windows: dict[str, list[Window]] = {d: [] for d in DIRECTIONS}
        parts: dict[str, list[dict[str, Any]]] = {d: [] for d in DIRECTIONS}
        reference_ids: torch.Tensor | None = None
        checks: list[dict[str, Any]] = []
        t0 = clock()
        miner, miner_build = self._build_miner(device)  # the mining the first switch leaves
        build_seconds = clock() - t0
        prompts = torch.randint(0, cfg.cfg.vocab_size, (cfg.batch_size, cfg.prompt_tokens),
                                generator=torch.Generator().manual_seed(cfg.seed + 1))
        for repeat in range(self._config.repeats):
            self._steady_mining(miner, device, protocol.warmup_s, clock)
            checks.append(miner.check())
            miner.step()  # the switch starts right after a finished step, not after the check
            device.synchronize()
            with _window(meter, device, f"switch/mine-to-infer/{repeat}", clock, windows["mine-to-infer"]) as timer:
                release(miner, device)
                miner = None
                timer.part("free")
                model, decoder, compile_note = self._load_model(device, prompts, timer)
                with torch.inference_mode():
                    decoder.prefill()
                device.synchronize()
                timer.part("warm_up")
            parts["mine-to-infer"].append({**timer.parts, "compile_form": compile_note})
            with torch.inference_mode():  # inference at steady state: a whole decode of the batch
                decoder.decode()
            device.synchronize()
            ids = decoder.generated_ids()
            if reference_ids is None:
                reference_ids = ids.clone()
            elif not torch.equal(ids, reference_ids):
                raise WorkloadCheckFailed(f"switch: repeat {repeat} generated ids differ from repeat 0's")
            with _window(meter, device, f"switch/infer-to-mine/{repeat}", clock, windows["infer-to-mine"]) as timer:
                model.drop_cache()
                del model, decoder
                release(_Dropped(), device)  # dynamo reset, gc and CUDA cache, as between workloads
                timer.part("free")
                miner, build = self._build_miner(device)
                compile_s = float(build.details.get("compile_s", 0.0))
                timer.split("load_allocate", "compile", compile_s)
                miner.step()
                device.synchronize()
                timer.part("warm_up")
            parts["infer-to-mine"].append({**timer.parts, "kernel_cached": build.details.get("cached")})
        checks.append(miner.check())
        release(miner, device)
        phases = [self.phase_entry(d, windows[d], parts[d], meter, idle_watts) for d in DIRECTIONS]
        headline = phases[0]
        from bench.runner import HEADLINE_FIELDS, source_sha256

        entry: dict[str, Any] = {"name": self.name, "status": "ok", "headline_phase": headline["name"]}
        entry.update({k: headline[k] for k in HEADLINE_FIELDS if k in headline})
        entry.update(
            source_sha256=source_sha256(self.source_files()),
            config=self.config(),
            build={"seconds": build_seconds, "first_miner": miner_build.details,
                   "note": "the first miner, built before the first repeat (not part of any switch)"},
            check={"generated_ids_equal_across_repeats": True, "repeats": self._config.repeats,
                   "shares_rehashed": sum(c["shares_rehashed"] for c in checks), "method": "hashlib double SHA-256"},
            phases=phases,
        )
        return entry

    def _build_miner(self, device: Device):
        miner = self._new_miner()
        return miner, miner.build()

    def _steady_mining(self, miner: MineWorkload, device: Device, seconds: float, clock: Callable[[], float]) -> None:
        start, steps = clock(), 0
        while steps < 2 or clock() - start < seconds:
            miner.step()
            steps += 1
        device.synchronize()

    def _load_model(self, device: Device, prompts, timer: "_Timer"):
        import torch

        from bench.workloads.infer import GreedyDecoder, bucketed_step
        from kernels.transformer import build_model

        cfg = self._infer
        torch_device = torch.device(device.torch_device)
        model = build_model(cfg.cfg, torch_device, cfg.dtype, cfg.seed, max_positions=cfg.prompt_tokens + cfg.output_tokens,
                            init_std=cfg.init_std).eval()
        if device.kind == "cpu":
            model.pack_linears_for_cpu(cfg.batch_size)
        decoder = GreedyDecoder(model, prompts.to(torch_device), cfg.output_tokens, cfg.prefill_chunk_tokens)
        device.synchronize()
        timer.part("load_allocate")
        if device.kind == "cuda":  # what a CUDA server does before serving: compile and capture
            decoder.step_logits = bucketed_step(decoder, torch.compile(model.decode_static, mode="reduce-overhead",
                                                                       fullgraph=True, dynamic=False))
            with torch.inference_mode():
                decoder.touch_buckets()
            note = "torch.compile reduce-overhead, every bucket captured"
        else:
            note = "eager on CPU: nothing compiled"
        device.synchronize()
        timer.part("compile")
        return model, decoder, note

    def phase_entry(self, direction: str, windows: list[Window], parts: list[dict[str, Any]], meter: Meter,
                     idle_watts: float | None) -> dict[str, Any]:
        entry = phase_entry(Phase(direction, "switches", _not_stepped), windows, meter, 0.0, 0, idle_watts)
        entry["warmup"] = {"seconds": 0.0, "steps": 0,
                           "note": "none: every repeat is a measured switch; the first is the first of the process"}
        for i, (window, part) in enumerate(zip(entry["windows"], parts)):
            window["parts_s"] = part
            window["first_in_process"] = i == 0
        derived: dict[str, Any] = {
            "seconds_per_switch": spread([w.seconds for w in windows]).to_dict(),
            "joules_per_switch": spread([w.joules for w in windows]).to_dict(),
            "parts_median_s": {p: spread([part[p] for part in parts]).median for p in PARTS},
            "parts": PART_NOTES[direction],
            "energy_source": entry["energy_source"],
            # A switch shorter than the meter's trustworthy window is reported, and flagged.
            "windows_shorter_than_meter_minimum": sum(w.meter_seconds < meter.min_window_s for w in windows),
            "meter_min_window_s": meter.min_window_s,
        }
        if idle_watts is not None:
            derived["joules_above_idle_per_switch"] = spread(
                [w.joules - idle_watts * w.meter_seconds for w in windows]).to_dict()
        entry["derived"] = derived
        return entry


def _not_stepped() -> int:
    raise BenchError("switch phases are measured by SwitchWorkload.measure, not stepped by the runner")


class _Dropped:
    """Stands for the inference side at release: its tensors were dropped already."""


class _Timer:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.start = self.last = clock()
        self.parts: dict[str, float] = {}

    def part(self, name: str) -> None:
        now = self.clock()
        self.parts[name] = self.parts.get(name, 0.0) + now - self.last
        self.last = now

    def split(self, first: str, second: str, second_s: float) -> None:
        """The time since the last part, of which ``second_s`` (reported by the build) was ``second``."""
        now = self.clock()
        elapsed = now - self.last
        second_s = min(max(second_s, 0.0), elapsed)
        self.parts[first] = self.parts.get(first, 0.0) + elapsed - second_s
        self.parts[second] = self.parts.get(second, 0.0) + second_s
        self.last = now


class _window:
    """One meter window around a switch; on exit the Window joins ``into`` (parts in ``timer``)."""

    def __init__(self, meter: Meter, device: Device, key: str, clock: Callable[[], float], into: list[Window]):
        self.meter, self.device, self.key, self.clock, self.into = meter, device, key, clock, into

    def __enter__(self) -> _Timer:
        self.device.synchronize()
        self.meter.begin(self.key)
        self.timer = _Timer(self.clock)
        return self.timer

    def __exit__(self, exc_type, exc, tb) -> None:
        self.device.synchronize()
        seconds = self.clock() - self.timer.start
        measurement = self.meter.end(self.key)
        if exc_type is not None:
            return
        for name in PARTS:
            self.timer.parts.setdefault(name, 0.0)
        if measurement.joules <= 0 or not math.isfinite(measurement.joules):
            raise BenchError(f"{self.key}: meter read {measurement.joules} J over {seconds:.3f} s; "
                             "no switch energy to report")
        self.into.append(Window(steps=1, seconds=seconds, work=1, joules=measurement.joules,
                                meter_seconds=measurement.seconds, meter_details=measurement.details))
