"""Training workload ``train``: forward, backward and an AdamW step on random token batches.

One step = one batch of ``batch_size`` sequences of ``seq_len`` random tokens through the model,
next-token cross-entropy, backward, AdamW; work = batch_size x seq_len tokens. Weights and optimizer
state stay float32; on CUDA the forward runs under bfloat16 autocast (the default), as mixed-precision
training does. Model-FLOPs utilisation (MFU) is derived from the measured tokens/s with the PaLM
FLOPs-per-token count and the peak table in kernels/peaks.py; where the table has no figure (any
CPU, an unlisted GPU) against a peak measured in build by a short GEMM at the matmuls' dtype,
labelled as measured (shape, dtype, seconds).

On CUDA, eager and ``torch.compile`` training steps are timed briefly in build and the faster is
measured (compile time in the build details); an out-of-memory batch is reported with the largest
batch that fit, and that batch is measured.

Run it through the harness: ``bench run --workload train --device cpu --model gpt2-124m``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.workloads import torch_build
from bench.workloads.base import BuildInfo, Phase
from bench.workloads.base import check_preset
from bench.workloads.torch_build import check_positive, default_dtype, parse_dtype, shape
from kernels import peaks
from kernels.transformer import ModelConfig, Transformer, build_model, dtype_name

# (model, batch, seq_len) by preset and device kind; nanoGPT-like GPT-2 batches on CUDA.
DEFAULTS: dict[tuple[str, str], tuple[str, int, int]] = {
    ("quick", "cpu"): ("gpt2-124m", 1, 32),
    ("standard", "cpu"): ("gpt2-124m", 4, 128),
    ("long", "cpu"): ("gpt2-124m", 8, 256),
    ("quick", "cuda"): ("gpt2-124m", 8, 1024),
    ("standard", "cuda"): ("gpt2-124m", 16, 1024),
    ("long", "cuda"): ("llama-1b", 8, 2048),
}
TRAIN_DTYPES = (torch.float32, torch.bfloat16)


class Trainer:
    """Next-token training steps over a cycle of token batches (batch, seq_len + 1); never syncs."""

    def __init__(self, model: Transformer, batches: Sequence[torch.Tensor], *, lr: float = 3e-4,
                 autocast_dtype: torch.dtype | None = None, weight_decay: float = 0.1):
        self.model = model
        self.forward: Callable[[torch.Tensor], torch.Tensor] = model
        self.batches = list(batches)
        self.autocast_dtype = autocast_dtype
        self.device_type = self.batches[0].device.type
        params = list(model.parameters())
        try:  # one fused kernel for the whole update where this torch has it for the device
            self.optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay,
                                               fused=True)
            self.optimizer_kind = "AdamW (fused)"
        except (RuntimeError, ValueError):
            self.optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
            self.optimizer_kind = "AdamW"
        self.steps = 0
        self.first_loss: torch.Tensor | None = None
        self.last_loss: torch.Tensor | None = None

    def step(self) -> torch.Tensor:
        """One forward, backward and AdamW step; returns the loss (on the device, not synced)."""
        tokens = self.batches[self.steps % len(self.batches)]
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        with torch.autocast(self.device_type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None):
            logits = self.forward(inputs)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        self.last_loss = loss.detach()
        if self.first_loss is None:
            self.first_loss = self.last_loss
        return self.last_loss


class TrainWorkload:
    name = "train"

    def __init__(self, model: str, batch_size: int, seq_len: int, dtype: str, compile_mode: str = "auto",
                 seed: int = 0, lr: float = 3e-4, *, device: Device):
        check_positive(batch_size=batch_size, seq_len=seq_len)
        self.cfg: ModelConfig = shape(model)
        self.dtype = parse_dtype(dtype)
        if self.dtype not in TRAIN_DTYPES:
            raise BenchError(f"train takes dtype float32 or bfloat16 (autocast), not {dtype!r}")
        if seq_len > self.cfg.max_seq_len:
            raise BenchError(f"seq-len {seq_len} does not fit {model}'s maximum sequence length {self.cfg.max_seq_len}")
        torch_build.check_step_form("compile mode", compile_mode)
        self.batch_size, self.seq_len = batch_size, seq_len
        self.compile_mode, self.seed, self.lr = compile_mode, seed, lr
        self.device = device
        self._trainer: Trainer | None = None
        self._device_name = ""
        self._measured_peak: peaks.MeasuredPeak | None = None  # where the peak table has no figure

    @classmethod
    def for_preset(cls, preset: str, device: Device, *, model: str | None = None, batch_size: int | None = None,
                   seq_len: int | None = None, dtype: str | None = None) -> "TrainWorkload":
        device_kind = device.kind
        check_preset(preset, device_kind)
        default_model, default_batch, default_seq = DEFAULTS[(preset, device_kind)]
        work = cls(
            model=default_model if model is None else model,
            batch_size=default_batch if batch_size is None else batch_size,
            seq_len=default_seq if seq_len is None else seq_len,
            dtype=default_dtype(device_kind) if dtype is None else dtype,
            device=device,
        )
        if device_kind == "cpu":  # host memory is known now: refuse before anything is measured
            check_train_memory(work.cfg, work.batch_size, work.seq_len, "cpu", torch.device("cpu"))
        return work

    def config(self) -> dict[str, Any]:
        return {
            "model": self.cfg.to_dict(),
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "dtype": dtype_name(self.dtype),
            "precision": "float32 weights and AdamW state" + (", bfloat16 autocast" if self.dtype == torch.bfloat16 else ""),
            "optimizer": {"name": "AdamW", "lr": self.lr, "betas": [0.9, 0.95], "weight_decay": 0.1},
            "data": "random tokens, seeded",
            "compile_mode": self.compile_mode,
            "seed": self.seed,
        }

    def source_files(self) -> list[Path]:
        here, kernels = Path(__file__).parent, Path(peaks.__file__).parent
        return [here / "train.py", here / "torch_build.py", kernels / "transformer.py", kernels / "peaks.py"]

    def build(self) -> BuildInfo:
        device = self.device
        torch_device = torch.device(device.torch_device)
        self._device_name = device.name
        check_train_memory(self.cfg, self.batch_size, self.seq_len, device.kind, torch_device)
        details: dict[str, Any] = {}
        # MFU on every device: a short GEMM at the dtype the matmuls run in (autocast's) where the
        # peak table has no figure.
        self._measured_peak = torch_build.peak_for_mfu(device, self.dtype, details)
        t0 = time.perf_counter()
        model = build_model(self.cfg, torch_device, torch.float32, self.seed, max_positions=self.seq_len).train()
        details["model_init_s"] = time.perf_counter() - t0
        generator = torch.Generator().manual_seed(self.seed + 2)
        pool = [torch.randint(0, self.cfg.vocab_size, (self.batch_size, self.seq_len + 1), generator=generator)
                for _ in range(2)]
        pool = [tokens.to(torch_device) for tokens in pool]
        autocast = torch.bfloat16 if self.dtype == torch.bfloat16 else None

        batch = self.batch_size
        if device.kind == "cuda":
            def fits(b: int) -> bool:
                def attempt() -> None:
                    trainer = Trainer(model, [t[:b] for t in pool], lr=self.lr, autocast_dtype=autocast)
                    try:
                        trainer.step()
                    finally:
                        trainer.optimizer.zero_grad(set_to_none=True)

                return torch_build.fits_in_memory(device, attempt, lambda: None)

            batch = torch_build.fitting_batch(device, batch, fits, f"training {self.cfg.name}", details)
        self._trainer = Trainer(model, [t[:batch] for t in pool], lr=self.lr, autocast_dtype=autocast)
        details["optimizer"] = self._trainer.optimizer_kind
        details["step"] = self._choose_forward(device)
        details["batch_size_measured"] = batch
        tokens_per_step = batch * self.seq_len

        def train_step() -> int:
            self._trainer.step()
            return tokens_per_step

        return BuildInfo(phases=[Phase("train", "tokens", train_step, derived=self._figures, headline=True)],
                         details=details)

    def _choose_forward(self, device) -> dict[str, Any]:
        """Eager or torch.compile'd forward, whichever trains faster over a few timed steps."""
        trainer = self._trainer

        def use(forward: Callable[[torch.Tensor], torch.Tensor]) -> None:
            trainer.forward = forward

        def warm_up() -> None:
            for _ in range(2):
                trainer.step()

        return torch_build.choose_step_form(
            device, self.compile_mode, eager=trainer.model, compile=lambda: torch.compile(trainer.model), use=use,
            warm_up=warm_up, run=trainer.step, runs=3, what="training step", timings_key="step_s",
            after_failure=lambda: trainer.optimizer.zero_grad(set_to_none=True))

    def _figures(self, tokens_per_s: float) -> dict[str, Any]:
        flops_per_token = self.cfg.train_flops_per_token(self.seq_len)
        return {
            "model_flops_per_token": flops_per_token,
            **peaks.mfu(tokens_per_s * flops_per_token, self._device_name, dtype_name(self.dtype),
                        self._measured_peak),
        }

    def close(self) -> None:
        """Drop model, gradients, AdamW state and compiled forward (the runner then frees them)."""
        self._trainer = None

    def check(self) -> dict[str, Any]:
        """The loss must be finite (a NaN or inf means the step is broken, not slow)."""
        if self._trainer is None:
            raise WorkloadCheckFailed("train: check() before build()")
        if self._trainer.last_loss is None:
            self._trainer.step()
        first, last = float(self._trainer.first_loss), float(self._trainer.last_loss)
        if not (math.isfinite(first) and math.isfinite(last)):
            raise WorkloadCheckFailed(f"train: loss is not finite (first {first}, last {last})")
        return {
            "loss_finite": True,
            "first_loss": first,
            "last_loss": last,
            "uniform_guess_loss": math.log(self.cfg.vocab_size),  # what random tokens should stay near
            "steps": self._trainer.steps,
        }


def check_train_memory(cfg: ModelConfig, batch: int, seq_len: int, device_kind: str,
                       torch_device: torch.device) -> None:
    """Refuse before allocating what cannot fit: weights, gradients and AdamW state (16 bytes a
    parameter in float32) and, on CPU, the activations kept for backward too."""
    state_bytes = 16 * cfg.param_count()
    tokens = batch * seq_len
    # Saved activations per token: roughly 16 d_model + 6 d_ff per layer, plus float32 logits twice.
    activation_bytes = 4 * tokens * (cfg.n_layers * (16 * cfg.d_model + 6 * cfg.d_ff) + 3 * cfg.vocab_size)
    torch_build.check_memory(
        device_kind, torch_device, gpu_need_bytes=state_bytes,
        gpu_refusal=lambda need, free: (f"training {cfg.name} needs {need} for weights, gradients and AdamW "
                                        f"state; the GPU has {free} free"),
        host_need_bytes=state_bytes + activation_bytes,
        host_refusal=lambda need, free: (f"training {cfg.name} at batch {batch} x {seq_len} tokens needs about "
                                         f"{need}; this machine has {free} available"),
    )
