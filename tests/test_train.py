"""The training workload: the step really trains, counts its tokens, and MFU uses the peak table or a measured peak."""

from __future__ import annotations

import math

import pytest
import torch

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from kernels import peaks
from bench.workloads.train import Trainer, TrainWorkload
from kernels.transformer import SHAPES, build_model

CPU = Device("cpu", None, "test CPU")
GPU = Device("cuda", 0, "test GPU")


def counting_batches(vocab: int, seq_len: int, count: int, seed: int) -> list[torch.Tensor]:
    """A learnable toy language: every token is the previous one plus one (mod vocab)."""
    generator = torch.Generator().manual_seed(seed)
    starts = [torch.randint(0, vocab, (8, 1), generator=generator) for _ in range(count)]
    return [(start + torch.arange(seq_len + 1)) % vocab for start in starts]


@pytest.mark.parametrize("name", ["tiny", "tiny-gpt2"])
def test_loss_falls_on_a_learnable_toy_task(name):
    cfg = SHAPES[name]
    model = build_model(cfg, "cpu", torch.float32, seed=0, max_positions=32).train()
    trainer = Trainer(model, counting_batches(cfg.vocab_size, 32, 4, seed=0), lr=3e-3, weight_decay=0.0)
    losses = [float(trainer.step()) for _ in range(40)]
    assert losses[0] == pytest.approx(math.log(cfg.vocab_size), rel=0.1)  # starts at a uniform guess
    assert losses[-1] < 0.4 * losses[0]


def test_random_tokens_cannot_be_learned_so_loss_stays_near_uniform():
    """The control for the toy task: the same steps on random tokens barely move the loss."""
    cfg = SHAPES["tiny"]
    model = build_model(cfg, "cpu", torch.float32, seed=0, max_positions=32).train()
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, cfg.vocab_size, (8, 33), generator=generator) for _ in range(64)]
    trainer = Trainer(model, batches, lr=3e-3, weight_decay=0.0)
    losses = [float(trainer.step()) for _ in range(20)]
    assert losses[-1] > 0.8 * math.log(cfg.vocab_size)


def test_train_phase_counts_batch_times_seq_len_tokens_and_check_reports_finite_loss():
    work = TrainWorkload("tiny", batch_size=3, seq_len=16, dtype="float32", device=CPU)
    build = work.build()
    (phase,) = build.phases
    assert (phase.name, phase.unit, phase.headline) == ("train", "tokens", True)
    assert phase.step() == 3 * 16
    result = work.check()
    assert result["loss_finite"] and result["steps"] == 1
    assert result["last_loss"] == pytest.approx(math.log(SHAPES["tiny"].vocab_size), rel=0.1)


def test_check_fails_when_the_loss_is_not_finite():
    work = TrainWorkload("tiny", batch_size=2, seq_len=8, dtype="float32", device=CPU)
    build = work.build()
    with torch.no_grad():
        work._trainer.model.norm.weight.fill_(float("nan"))
    build.phases[0].step()
    with pytest.raises(WorkloadCheckFailed, match="loss is not finite"):
        work.check()


def test_mfu_on_cpu_is_against_a_measured_peak_and_says_so():
    work = TrainWorkload("tiny", batch_size=2, seq_len=8, dtype="float32", device=CPU)
    build = work.build()
    measured = build.details["measured_peak"]
    assert measured["shape"] == [1024, 1024, 1024] and measured["dtype"] == "float32"
    assert measured["repeats"] >= 1 and measured["seconds"] < 1.0  # 0.2 s of repeats plus one GEMM
    assert 1e8 < measured["flops_per_s"] < 1e14  # a CPU's float32 matmul speed, whatever the CPU
    figures = build.phases[0].derived(1000.0)
    model_flops = 1000.0 * SHAPES["tiny"].train_flops_per_token(8)
    assert figures["model_flops_per_s"] == pytest.approx(model_flops)
    assert figures["peak_kind"] == "measured" and figures["peak_flops_per_s"] == measured["flops_per_s"]
    assert figures["mfu"] == pytest.approx(model_flops / measured["flops_per_s"])
    assert figures["mfu_basis"].startswith("measured peak: best of") and "1024x1024x1024 float32" in figures["mfu_basis"]


def test_a_device_in_the_peak_table_measures_nothing():
    from types import SimpleNamespace

    from bench.workloads.torch_build import peak_for_mfu

    def must_not_measure(device, dtype):
        raise AssertionError("measured a peak the table has")

    details = {}
    h100 = SimpleNamespace(kind="cuda", name="NVIDIA H100 80GB HBM3")
    assert peak_for_mfu(h100, torch.bfloat16, details, measure=must_not_measure) is None and details == {}
    # ...but float64 is not in its row: measured there too.
    fake = peaks.MeasuredPeak(flops_per_s=5e13, n=8192, dtype="float64", seconds=0.2, repeats=9)
    assert peak_for_mfu(h100, torch.float64, details, measure=lambda d, t: fake) is fake
    assert details["measured_peak"]["flops_per_s"] == 5e13


def test_mfu_divides_model_flops_by_the_table_peak_for_the_dtype():
    work = TrainWorkload("gpt2-124m", batch_size=16, seq_len=1024, dtype="bfloat16", device=CPU)
    work._device_name = "NVIDIA H100 80GB HBM3"
    tokens_per_s = 400_000.0
    figures = work._figures(tokens_per_s)
    expected = tokens_per_s * SHAPES["gpt2-124m"].train_flops_per_token(1024) / 989e12
    assert figures["mfu"] == pytest.approx(expected)
    assert "H100 SXM dense bfloat16" in figures["mfu_basis"] and figures["peak_kind"] == "datasheet"


@pytest.mark.parametrize(
    "device_name, dtype, peak",
    [
        ("NVIDIA H100 80GB HBM3", "bfloat16", 989e12),
        ("NVIDIA H100 PCIe", "bfloat16", 756e12),
        ("NVIDIA A100-SXM4-80GB", "bfloat16", 312e12),
        ("NVIDIA A100-SXM4-80GB", "float32", 19.5e12),
        ("NVIDIA GeForce RTX 4090", "bfloat16", 165.2e12),
        ("NVIDIA L4", "bfloat16", 121e12),
        ("NVIDIA L40", "bfloat16", None),  # not L4, not L40S: unknown rather than a neighbour's peak
        ("AMD EPYC 7B13", "float32", None),
    ],
)
def test_peak_table_matches_device_names_word_by_word(device_name, dtype, peak):
    assert peaks.peak_flops_per_s(device_name, dtype)[0] == peak


@pytest.mark.parametrize(
    "options, message",
    [
        ({"model": "gpt5"}, "unknown model 'gpt5'"),
        ({"batch_size": 0}, "batch-size must be a positive integer"),
        ({"seq_len": 0}, "seq-len must be a positive integer"),
        ({"model": "gpt2-124m", "seq_len": 2048}, "seq-len 2048 does not fit gpt2-124m's maximum sequence length 1024"),
        ({"dtype": "float16"}, "train takes dtype float32 or bfloat16"),
    ],
)
def test_bad_train_options_are_refused_in_one_line(options, message):
    with pytest.raises(BenchError, match=message):
        TrainWorkload.for_preset("quick", CPU, **options)


def test_train_preset_defaults():
    assert TrainWorkload.for_preset("quick", CPU).config()["dtype"] == "float32"
    cuda = TrainWorkload.for_preset("standard", GPU).config()
    assert cuda["dtype"] == "bfloat16" and cuda["model"]["name"] == "gpt2-124m"


class FakeCuda:
    kind = "cuda"

    def synchronize(self) -> None:
        pass


def test_auto_training_step_falls_back_to_eager_when_compiling_fails(monkeypatch):
    work = TrainWorkload("tiny", batch_size=2, seq_len=8, dtype="float32", device=CPU)
    work.build()

    def failing_compile(model, **options):
        def compiled(*args):
            raise RuntimeError("inductor failed")
        return compiled

    monkeypatch.setattr(torch, "compile", failing_compile)
    choice = work._choose_forward(FakeCuda())
    assert choice["mode"] == "eager" and "inductor failed" in choice["compiled_error"]
    assert set(choice["step_s"]) == {"eager"}
    assert work._trainer.forward is work._trainer.model
    assert work.check()["loss_finite"]


def test_training_too_big_for_host_memory_is_refused_when_configured(monkeypatch):
    import psutil
    from types import SimpleNamespace

    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=16 * 2**30))
    with pytest.raises(BenchError, match=r"training llama-1b .* needs about 18\.\d GiB; this machine has 16\.0 GiB"):
        TrainWorkload.for_preset("quick", CPU, model="llama-1b", seq_len=64)
    assert TrainWorkload.for_preset("quick", CPU, model="gpt2-124m").cfg.name == "gpt2-124m"
