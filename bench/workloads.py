"""Names of the workloads and how the CLI's options reach each one."""

from __future__ import annotations

from dataclasses import dataclass

from bench.workload import Workload

WORKLOAD_NAMES = ("mine", "infer", "train")


@dataclass(frozen=True)
class WorkloadOptions:
    """Options from the command line; None means the preset's default for the device."""

    threads: int | None = None  # mine, CPU only
    model: str | None = None  # infer and train
    dtype: str | None = None  # infer and train
    batch_size: int | None = None  # infer
    prompt_tokens: int | None = None  # infer
    output_tokens: int | None = None  # infer
    train_batch_size: int | None = None
    train_seq_len: int | None = None


def make_workload(name: str, preset: str, device_kind: str, options: WorkloadOptions) -> Workload:
    """Configure one workload; bad options raise BenchError before anything is measured."""
    if name == "mine":
        from kernels.mine import MineWorkload

        return MineWorkload.for_preset(preset, device_kind, threads=options.threads)
    if name == "infer":
        from kernels.infer import InferWorkload

        return InferWorkload.for_preset(
            preset, device_kind,
            model=options.model, batch_size=options.batch_size, prompt_tokens=options.prompt_tokens,
            output_tokens=options.output_tokens, dtype=options.dtype,
        )
    if name == "train":
        from kernels.train import TrainWorkload

        return TrainWorkload.for_preset(
            preset, device_kind,
            model=options.model, batch_size=options.train_batch_size, seq_len=options.train_seq_len,
            dtype=options.dtype,
        )
    raise ValueError(f"unknown workload {name!r}")  # click's Choice keeps users from getting here
