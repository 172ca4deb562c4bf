"""The workload kinds: one entry each, read by the CLI, the runner, compare, economics and report.

A new kind is one ``WorkloadKind`` in ``KINDS`` plus its module: what it measures (unit,
headline phase), how it earns money, which config keys define its unit of work (so figures of
different work are never ranked together), and how the CLI's options configure it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence, Callable

from bench.devices import Device
from bench.errors import BenchError
from bench.workloads.base import BuildInfo, Phase, Workload

__all__ = [
    "BuildInfo", "Earning", "KINDS", "Phase", "Workload", "WorkloadKind", "WorkloadOptions", "kind",
    "make_workload", "names", "run_names",
]


class Earning(str, Enum):
    """How a kind of work is paid."""

    MINING = "mining"  # block rewards per hash, paid FPPS by a pool
    TOKENS = "tokens"  # output tokens sold at a price per million
    RENTAL = "rental"  # the device rented by the GPU-hour
    NOTHING = "nothing"  # a cost, not paid work (switch: what changing work costs)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class WorkloadOptions:
    """Options from the command line; None means the preset's default for the device."""

    threads: int | None = None  # mine, CPU only
    kernel: str | None = None  # mine, CPU only: "auto" (measured), "sha-ni" or "simd"
    model: str | None = None  # infer and train
    dtype: str | None = None  # infer and train
    batch_size: int | None = None  # infer
    prompt_tokens: int | None = None  # infer
    output_tokens: int | None = None  # infer
    train_batch_size: int | None = None
    train_seq_len: int | None = None


@dataclass(frozen=True)
class WorkloadKind:
    name: str
    unit: str  # plural work unit: "hashes", "tokens"
    headline_phase: str  # the phase whose figures stand for the workload
    earns: Earning
    # Config keys that define what one unit of work *is*: a SHA-256d hash is the same work on
    # any device, a token only for the same model. Other settings are a device's tuning.
    work_defining_config: tuple[str, ...]
    options: tuple[str, ...]  # the WorkloadOptions fields this kind reads
    build: Callable[[str, Device, WorkloadOptions], Workload]  # (preset, device, options)
    # False: measured by its own command (bench switch, bench serve), not offered by ``bench run``.
    in_run: bool = True
    # True: one unit is the same work whatever code measured it under whatever preset (a hash is one
    # double SHA-256, checked by every run), so figures rank together across code versions, presets
    # and machines (an ASIC's firmware figure beside a GPU's kernel); files still merge only alike.
    unit_fixed_by_protocol: bool = False


def _mine(preset: str, device: Device, options: WorkloadOptions) -> Workload:
    from bench.workloads.mine import MineWorkload

    if device.kind == "cuda":  # before anything is measured: the kernel cannot compile without them
        from bench.devices import require_cuda_compiler

        require_cuda_compiler()
    return MineWorkload.for_preset(preset, device, threads=options.threads, variant=options.kernel)


def _infer(preset: str, device: Device, options: WorkloadOptions) -> Workload:
    from bench.workloads.infer import InferWorkload

    return InferWorkload.for_preset(
        preset, device, model=options.model, batch_size=options.batch_size,
        prompt_tokens=options.prompt_tokens, output_tokens=options.output_tokens, dtype=options.dtype,
    )


def _train(preset: str, device: Device, options: WorkloadOptions) -> Workload:
    from bench.workloads.train import TrainWorkload

    return TrainWorkload.for_preset(
        preset, device, model=options.model, batch_size=options.train_batch_size,
        seq_len=options.train_seq_len, dtype=options.dtype,
    )


def _switch(preset: str, device: Device, options: WorkloadOptions) -> Workload:
    from bench.workloads.switch import SwitchWorkload

    return SwitchWorkload.for_preset(preset, device, threads=options.threads, kernel=options.kernel,
                                     model=options.model, dtype=options.dtype, batch_size=options.batch_size,
                                     prompt_tokens=options.prompt_tokens, output_tokens=options.output_tokens)


def _serve(preset: str, device: Device, options: WorkloadOptions) -> Workload:
    from bench.workloads.serve import ServeWorkload

    return ServeWorkload.for_preset(preset, device, model=options.model, dtype=options.dtype,
                                    threads=options.threads, kernel=options.kernel)


KINDS: dict[str, WorkloadKind] = {
    k.name: k
    for k in (
        WorkloadKind("mine", "hashes", "hash", Earning.MINING, (), ("threads", "kernel"), _mine,
                     unit_fixed_by_protocol=True),
        WorkloadKind("infer", "tokens", "decode", Earning.TOKENS, ("model",),
                     ("model", "dtype", "batch_size", "prompt_tokens", "output_tokens"), _infer),
        WorkloadKind("train", "tokens", "train", Earning.RENTAL, ("model",),
                     ("model", "dtype", "train_batch_size", "train_seq_len"), _train),
        WorkloadKind("switch", "switches", "mine-to-infer", Earning.NOTHING, ("model",),
                     ("threads", "kernel", "model", "dtype", "batch_size", "prompt_tokens", "output_tokens"),
                     _switch, in_run=False),
        WorkloadKind("serve", "tokens", "serve", Earning.TOKENS, ("model",), ("threads", "kernel", "model", "dtype"),
                     _serve, in_run=False),
    )
}


def names() -> tuple[str, ...]:
    return tuple(KINDS)


def run_names() -> tuple[str, ...]:
    """The kinds ``bench run`` measures (and runs by default)."""
    return tuple(name for name, k in KINDS.items() if k.in_run)


def kind(name: str) -> WorkloadKind:
    try:
        return KINDS[name]
    except KeyError:
        raise BenchError(f"unknown workload {name!r}: expected one of {', '.join(KINDS)}") from None


def check_options(workload_names: Sequence[str], options: WorkloadOptions) -> None:
    """An option none of the chosen workloads reads is refused (``--workload mine --dtype float16``
    would otherwise run as if it had been heard)."""
    for option, value in vars(options).items():
        if value is None:
            continue
        takers = [n for n, k in KINDS.items() if option in k.options and k.in_run]
        if not any(option in kind(n).options for n in workload_names):
            flag = "--" + option.replace("_", "-")
            raise BenchError(f"{flag} applies to {' and '.join(takers) or 'no workload'}, not to "
                             f"{', '.join(workload_names)}: leave it out or add --workload {takers[0] if takers else ''}")


def make_workload(name: str, preset: str, device: Device, options: WorkloadOptions) -> Workload:
    """Configure one workload; bad options raise BenchError before anything is measured."""
    return kind(name).build(preset, device, options)
