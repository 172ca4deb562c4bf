"""Inference workload ``infer``: prefill and batched greedy decode with a preallocated KV cache.

As a serving benchmark does it (vLLM's benchmark with ignore_eos): a batch of seeded random
prompts, a fixed number of output tokens per sequence, greedy, one token per sequence per step.

  prefill phase  one step = the whole batch's prompts through the model, filling the KV cache
                 (in row chunks of at most ``prefill_chunk_tokens`` tokens, as chunked prefill
                 does, so activations stay bounded); work = batch x prompt_tokens.
  decode phase   one step = restart right after the prompt (cache positions from prompt_tokens
                 on are simply overwritten) and decode ``output_tokens`` single-token steps for
                 every sequence; work = batch x output_tokens. The headline phase.

On CUDA the decode step is offered in two forms, eager and ``torch.compile(mode="reduce-overhead")``
(CUDA graphs over fixed shapes: attention over the filled cache prefix rounded up to one of at most
``DECODE_BUCKETS`` (7) lengths, one graph per bucket, masked within it); both are timed briefly in
build and the faster one is measured, with compile time and the timings kept in the build details.
An out-of-memory batch (eager or compiled) is reported with the largest batch that fit, and that
batch is measured.

Run it through the harness: ``bench run --workload infer --device cpu --model gpt2-124m``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.workloads import torch_build
from bench.workloads.base import BuildInfo, Phase
from bench.workloads.base import check_preset
from bench.workloads.torch_build import check_positive, default_dtype, parse_dtype, shape
from kernels import peaks
from kernels.transformer import ModelConfig, Transformer, build_model, dtype_name

# (model, batch, prompt tokens, output tokens) by preset and device kind. CPU steps stay under
# a window (quick: 1 s); CUDA sizes follow common serving benchmarks (8B model, long outputs).
DEFAULTS: dict[tuple[str, str], tuple[str, int, int, int]] = {
    ("quick", "cpu"): ("gpt2-124m", 1, 32, 8),
    ("standard", "cpu"): ("gpt2-124m", 8, 128, 32),
    ("long", "cpu"): ("gpt2-124m", 8, 512, 128),
    ("quick", "cuda"): ("llama-1b", 16, 128, 64),
    ("standard", "cuda"): ("llama-8b", 64, 512, 256),
    ("long", "cuda"): ("llama-8b", 256, 1024, 512),
}
# Relative logits error allowed between cached decode and a full recompute, by dtype.
_CHECK_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.bfloat16: 0.1, torch.float16: 0.1}
_CHECK_STEPS = 8
# Compiled decode attends to the filled prefix rounded up to one of this many lengths: one graph
# each, one under dynamo's recompile limit of 8 (past it dynamo silently runs eager). Attending
# to the whole cache instead read ~20% more KV at the standard preset, and biased the
# eager-vs-compiled choice towards eager; 7 buckets leave about 3% over the filled prefix.
DECODE_BUCKETS = 7


def attend_lengths(prompt_tokens: int, output_tokens: int, buckets: int = DECODE_BUCKETS) -> list[int]:
    """Cache positions decode step i attends to in the compiled form: the filled prefix
    (prompt_tokens + i + 1) rounded up to a bucket; at most ``buckets`` distinct lengths."""
    width = -(-output_tokens // buckets)  # ceil: steps per bucket
    return [prompt_tokens + min(output_tokens, width * (i // width + 1)) for i in range(output_tokens)]


class GreedyDecoder:
    """Prefill and greedy decode over a model's preallocated cache; enqueues work, never syncs.

    ``step_logits(ids, i)`` gives the logits of decode step ``i`` (position prompt_tokens + i); it is
    the eager ``model.decode`` unless a compiled function is swapped in.
    """

    def __init__(self, model: Transformer, prompts: torch.Tensor, output_tokens: int, prefill_chunk_tokens: int):
        self.model = model
        self.prompts = prompts
        self.batch, self.prompt_tokens = prompts.shape
        self.output_tokens = output_tokens
        self.rows_per_chunk = max(1, prefill_chunk_tokens // self.prompt_tokens)
        device = prompts.device
        model.setup_cache(self.batch, self.prompt_tokens + output_tokens)
        self.first_ids = torch.zeros(self.batch, dtype=torch.long, device=device)
        # Row i holds the ids decode step i produced: contiguous, so it feeds the next step as is.
        self.out_ids = torch.zeros(output_tokens, self.batch, dtype=torch.long, device=device)
        self.positions = torch.arange(self.prompt_tokens, self.prompt_tokens + output_tokens, device=device)
        self.attend_lengths = attend_lengths(self.prompt_tokens, output_tokens)
        self.step_logits: Callable[[torch.Tensor, int], torch.Tensor] = self.eager_step

    def eager_step(self, ids: torch.Tensor, i: int) -> torch.Tensor:
        return self.model.decode(ids, self.prompt_tokens + i)

    def prefill(self) -> int:
        for start in range(0, self.batch, self.rows_per_chunk):
            rows = slice(start, min(self.batch, start + self.rows_per_chunk))
            self.first_ids[rows] = self.model.prefill(self.prompts[rows], rows).argmax(dim=-1)
        return self.batch * self.prompt_tokens

    def decode(self, steps: int | None = None, keep_logits_steps: int = 0) -> list[torch.Tensor]:
        """Decode ``steps`` (default all) tokens per sequence from just after the prompt.

        Returns sequence 0's logits of the first ``keep_logits_steps`` steps (for checks).
        """
        kept = []
        ids = self.first_ids.view(self.batch, 1)
        for i in range(self.output_tokens if steps is None else steps):
            logits = self.step_logits(ids, i)
            if i < keep_logits_steps:
                kept.append(logits[0].float().clone())
            self.out_ids[i] = logits.argmax(dim=-1)
            ids = self.out_ids[i].view(self.batch, 1)
        return kept

    def touch_buckets(self, times: int = 2) -> None:
        """Run the first step of every attention bucket ``times`` times: a compiled step compiles
        (and CUDA graphs record) each bucket here, not inside a timed decode. The cache positions
        written are rewritten by the next decode before any step reads them."""
        ids = self.first_ids.view(self.batch, 1)
        firsts = sorted({self.attend_lengths.index(length) for length in set(self.attend_lengths)})
        for _ in range(times):
            for i in firsts:
                self.step_logits(ids, i)

    def generated_ids(self) -> torch.Tensor:
        """(batch, 1 + output_tokens) ids: the prefill's token, then one per decode step."""
        return torch.cat([self.first_ids.view(1, -1), self.out_ids]).T.cpu()


def bucketed_step(decoder: GreedyDecoder, static: Callable[..., torch.Tensor]) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Decode step i through ``static`` (``decode_static`` or a compiled form of it), attending to
    step i's bucket; ``dynamic=False`` compiles the int length as a constant, one graph a bucket."""
    positions, lengths = decoder.positions, decoder.attend_lengths
    return lambda ids, i: static(ids, positions[i:i + 1], lengths[i])


class InferWorkload:
    name = "infer"

    def __init__(self, model: str, batch_size: int, prompt_tokens: int, output_tokens: int, dtype: str,
                 decode_mode: str = "auto", seed: int = 0, prefill_chunk_tokens: int = 8192,
                 init_std: float = 0.02, *, device: Device):
        check_positive(batch_size=batch_size, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
                       prefill_chunk_tokens=prefill_chunk_tokens)
        self.cfg: ModelConfig = shape(model)
        self.dtype = parse_dtype(dtype)
        torch_build.check_step_form("decode mode", decode_mode)
        positions = prompt_tokens + output_tokens
        if positions > self.cfg.max_seq_len:
            raise BenchError(
                f"prompt-tokens {prompt_tokens} + output-tokens {output_tokens} = {positions} positions do not fit "
                f"{model}'s maximum sequence length {self.cfg.max_seq_len}"
            )
        self.batch_size, self.prompt_tokens, self.output_tokens = batch_size, prompt_tokens, output_tokens
        self.decode_mode, self.seed, self.prefill_chunk_tokens = decode_mode, seed, prefill_chunk_tokens
        self.init_std = init_std
        self.device = device
        self._model: Transformer | None = None
        self._decoder: GreedyDecoder | None = None
        self._reference_ids: torch.Tensor | None = None
        self._device_name = ""
        self._measured_peak: peaks.MeasuredPeak | None = None  # where the peak table has no figure

    @classmethod
    def for_preset(cls, preset: str, device: Device, *, model: str | None = None, batch_size: int | None = None,
                   prompt_tokens: int | None = None, output_tokens: int | None = None,
                   dtype: str | None = None) -> "InferWorkload":
        device_kind = device.kind
        check_preset(preset, device_kind)
        default_model, default_batch, default_prompt, default_output = DEFAULTS[(preset, device_kind)]
        work = cls(
            model=default_model if model is None else model,
            batch_size=default_batch if batch_size is None else batch_size,
            prompt_tokens=default_prompt if prompt_tokens is None else prompt_tokens,
            output_tokens=default_output if output_tokens is None else output_tokens,
            dtype=default_dtype(device_kind) if dtype is None else dtype,
            device=device,
        )
        if device_kind == "cpu":  # host memory is known now: refuse before anything is measured
            check_memory(work.cfg, work.dtype, work.batch_size, work.prompt_tokens + work.output_tokens,
                         work.prefill_chunk_tokens, "cpu", torch.device("cpu"))
        return work

    def config(self) -> dict[str, Any]:
        return {
            "model": self.cfg.to_dict(),
            "batch_size": self.batch_size,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "dtype": dtype_name(self.dtype),
            "decode_mode": self.decode_mode,
            "sampling": "greedy, fixed output length (no end-of-sequence stop)",
            "prefill_chunk_tokens": self.prefill_chunk_tokens,
            "seed": self.seed,
        }

    def source_files(self) -> list[Path]:
        here, kernels = Path(__file__).parent, Path(peaks.__file__).parent
        return [here / "infer.py", here / "torch_build.py", kernels / "transformer.py", kernels / "peaks.py"]

    # -- build -------------------------------------------------------------------------------
    def build(self) -> BuildInfo:
        device = self.device
        torch_device = torch.device(device.torch_device)
        self._device_name = device.name
        details: dict[str, Any] = {}
        # MFU on every device: a short GEMM at the model's dtype where the peak table has no figure.
        self._measured_peak = torch_build.peak_for_mfu(device, self.dtype, details)
        check_memory(self.cfg, self.dtype, self.batch_size, self.prompt_tokens + self.output_tokens,
                     self.prefill_chunk_tokens, device.kind, torch_device)
        t0 = time.perf_counter()
        self._model = build_model(self.cfg, torch_device, self.dtype, self.seed,
                                  max_positions=self.prompt_tokens + self.output_tokens,
                                  init_std=self.init_std).eval()
        details["model_init_s"] = time.perf_counter() - t0
        if device.kind == "cpu" and self.decode_mode != "compiled":  # torch.compile cannot trace packed weights
            details["matmul"] = self._model.pack_linears_for_cpu(self.batch_size)
        generator = torch.Generator().manual_seed(self.seed + 1)
        prompts = torch.randint(0, self.cfg.vocab_size, (self.batch_size, self.prompt_tokens), generator=generator)
        prompts = prompts.to(torch_device)

        with torch.inference_mode():
            if device.kind == "cuda":
                batch = torch_build.fitting_batch(device, self.batch_size, lambda b: self._fits(prompts[:b], device),
                                                  self.cfg.name, details)
            else:
                batch = self.batch_size
            self._decoder = GreedyDecoder(self._model, prompts[:batch], self.output_tokens,
                                          self.prefill_chunk_tokens)
            self._decoder.prefill()
            details["decode"] = self._choose_decode_step(device)
            # The ids every later decode must reproduce (check()).
            self._decoder.decode()
            reference = self._decoder.generated_ids()
        self._reference_ids = reference.clone()  # a normal tensor, out of inference mode
        details["batch_size_measured"] = batch

        def prefill_step() -> int:
            with torch.inference_mode():
                return self._decoder.prefill()

        def decode_step() -> int:
            with torch.inference_mode():
                self._decoder.decode()
            return batch * self.output_tokens

        phases = [
            Phase("prefill", "tokens", prefill_step, derived=self._prefill_figures),
            Phase("decode", "tokens", decode_step, derived=self._decode_figures, headline=True),
        ]
        return BuildInfo(phases=phases, details=details)

    def _fits(self, prompts: torch.Tensor, device) -> bool:
        """Does ``prompts``' batch fit: cache, prefill and a decode step at the last position, eager
        and, where the compiled form may be chosen, compiled and recorded as a CUDA graph too (its
        memory pool comes on top of the eager footprint)."""
        def attempt() -> None:
            decoder = GreedyDecoder(self._model, prompts, self.output_tokens, self.prefill_chunk_tokens)
            decoder.prefill()
            ids, last = decoder.out_ids[0].view(-1, 1), self.output_tokens - 1
            decoder.step_logits(ids, last).argmax(dim=-1)
            if self.decode_mode == "eager":
                return
            decoder.step_logits = self._compiled_step(decoder)
            try:
                for _ in range(3):  # cudagraph trees: warm-up run, recording, replay
                    decoder.step_logits(ids, last).argmax(dim=-1)
                device.synchronize()
            except Exception as exc:  # noqa: BLE001 - a compiler failure is choose_step_form's to report
                if torch_build.is_out_of_memory(exc):
                    raise

        def release() -> None:
            self._model.drop_cache()
            torch._dynamo.reset()  # the trial's graphs and their pool; a new batch is a new graph anyway

        return torch_build.fits_in_memory(device, attempt, release)

    def _choose_decode_step(self, device) -> dict[str, Any]:
        """Pick eager or compiled decode by timing one full decode of each (after a warm-up)."""
        decoder = self._decoder

        def use(step: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
            decoder.step_logits = step

        def warm_up() -> None:  # compile and CUDA graph capture of every bucket
            with torch.inference_mode():
                decoder.touch_buckets()
                decoder.decode(steps=min(3, self.output_tokens))

        def run() -> None:
            with torch.inference_mode():
                decoder.decode()

        return torch_build.choose_step_form(
            device, self.decode_mode, eager=decoder.eager_step, compile=lambda: self._compiled_step(decoder), use=use,
            warm_up=warm_up, run=run, runs=1, what="decode", timings_key="one_decode_s")

    def _compiled_step(self, decoder: GreedyDecoder) -> Callable[[torch.Tensor, int], torch.Tensor]:
        return bucketed_step(decoder, torch.compile(self._model.decode_static, mode="reduce-overhead",
                                                          fullgraph=True, dynamic=False))

    def close(self) -> None:
        """Drop model, KV cache and compiled decode (the runner then frees them)."""
        if self._model is not None:
            self._model.drop_cache()
        self._model = self._decoder = self._reference_ids = None

    # -- derived figures ---------------------------------------------------------------------
    def _prefill_figures(self, tokens_per_s: float) -> dict[str, Any]:
        batch = self._decoder.batch
        flops = self.cfg.forward_flops_per_token(self.prompt_tokens)
        return {
            "batch_size": batch,
            "seconds_per_batch_prefill": batch * self.prompt_tokens / tokens_per_s,
            **peaks.mfu(tokens_per_s * flops, self._device_name, dtype_name(self.dtype), self._measured_peak),
        }

    def _decode_figures(self, tokens_per_s: float) -> dict[str, Any]:
        batch = self._decoder.batch
        steps_per_s = tokens_per_s / batch
        element = self.dtype.itemsize
        weight_bytes = self.cfg.matmul_params() * element
        mean_context = self.prompt_tokens + (self.output_tokens + 1) / 2
        kv_bytes = self.cfg.kv_cache_bytes(batch, 1, element) * mean_context
        return {
            "batch_size": batch,
            "time_per_output_token_ms": 1000.0 / steps_per_s,
            "output_tokens_per_s_per_sequence": steps_per_s,
            # What each step must at least read (weights once, the KV cache so far), per second.
            "min_memory_read_gb_per_s": (weight_bytes + kv_bytes) * steps_per_s / 1e9,
            **peaks.mfu(tokens_per_s * self.cfg.forward_flops_per_token(round(mean_context)), self._device_name,
                        dtype_name(self.dtype), self._measured_peak),
        }

    # -- check -------------------------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """Decode again: ids must be in range and equal to build's, and sequence 0's logits must
        match a full recompute without the cache."""
        if self._decoder is None:
            raise WorkloadCheckFailed("infer: check() before build()")
        decoder, model = self._decoder, self._model
        steps = min(_CHECK_STEPS, self.output_tokens)
        with torch.inference_mode():
            decoder.prefill()
            cached = torch.stack(decoder.decode(keep_logits_steps=steps))
            ids = decoder.generated_ids()
            if ids.min() < 0 or ids.max() >= self.cfg.vocab_size:
                raise WorkloadCheckFailed(f"infer: generated ids outside [0, {self.cfg.vocab_size})")
            if not torch.equal(ids, self._reference_ids):
                differ = int((ids != self._reference_ids).sum())
                raise WorkloadCheckFailed(f"infer: decode is not deterministic ({differ} ids differ from build's)")
            sequence = torch.cat([decoder.prompts[0].cpu(), ids[0, :steps]]).to(decoder.prompts.device)
            full = model(sequence.view(1, -1))[0, self.prompt_tokens:].float()
            model_error = float((cached - full).abs().max() / full.abs().max())
        tolerance = _CHECK_TOLERANCE[self.dtype]
        if not model_error <= tolerance:
            raise WorkloadCheckFailed(
                f"infer: cached decode logits differ from a full recompute by {model_error:.3g} "
                f"(relative, allowed {tolerance:g} for {dtype_name(self.dtype)})"
            )
        return {
            "ids_in_range": True,
            "deterministic": True,
            "kv_cache_vs_recompute_relative_error": model_error,
            "kv_cache_vs_recompute_steps": steps,
            "tolerance": tolerance,
        }


def check_memory(cfg: ModelConfig, dtype: torch.dtype, batch: int, positions: int, prefill_chunk_tokens: int,
                 device_kind: str, torch_device: torch.device) -> None:
    """Refuse, before allocating, a run whose weights (CUDA) or whole footprint (CPU) cannot fit.

    On CUDA a too-large batch is not refused here: build finds the largest batch that fits.
    """
    element = dtype.itemsize
    weight_bytes = cfg.param_count() * element
    chunk_tokens = max(prefill_chunk_tokens, positions)
    activation_bytes = chunk_tokens * (6 * cfg.d_model + 3 * cfg.d_ff) * element  # a block's live tensors
    torch_build.check_memory(
        device_kind, torch_device, gpu_need_bytes=weight_bytes,
        gpu_refusal=lambda need, free: f"{cfg.name} weights need {need} in {dtype_name(dtype)}, the GPU has {free} free",
        host_need_bytes=weight_bytes + cfg.kv_cache_bytes(batch, positions, element) + activation_bytes,
        host_refusal=lambda need, free: (f"{cfg.name} at batch {batch}, {positions} positions, {dtype_name(dtype)} "
                                         f"needs about {need}; this machine has {free} available"),
    )
