"""The inference workload: cached decode is right, phases count the right work, bad input is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.workloads.infer import GreedyDecoder, InferWorkload
from bench.workloads.torch_build import is_out_of_memory, largest_fitting_batch
from kernels.transformer import SHAPES, build_model

CPU = Device("cpu", None, "test CPU")
GPU = Device("cuda", 0, "test GPU")


def full_recompute_greedy(model, prompts: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Greedy generation with no cache: the whole sequence through the model for every token."""
    sequence = prompts
    for _ in range(new_tokens):
        next_ids = model(sequence)[:, -1].argmax(dim=-1, keepdim=True)
        sequence = torch.cat([sequence, next_ids], dim=1)
    return sequence[:, prompts.shape[1]:]


@pytest.mark.parametrize("name", ["tiny", "tiny-gpt2"])
def test_cached_decode_ids_equal_full_recompute_ids(name):
    cfg = SHAPES[name]
    # float64 and a large init: no near-ties in argmax, and outputs varied enough that a cache
    # bug cannot hide behind a model that repeats one token.
    model = build_model(cfg, "cpu", torch.float64, seed=0, max_positions=40, init_std=0.3).eval()
    prompts = torch.randint(0, cfg.vocab_size, (3, 16), generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        decoder = GreedyDecoder(model, prompts, output_tokens=20, prefill_chunk_tokens=8192)
        decoder.prefill()
        decoder.decode()
        cached = decoder.generated_ids()
        reference = full_recompute_greedy(model, prompts, 21)
    assert torch.equal(cached, reference)
    assert all(len(set(row.tolist())) >= 8 for row in cached)


def test_prefill_in_row_chunks_gives_the_same_ids_as_one_chunk():
    def generate(chunk_tokens: int) -> torch.Tensor:
        work = InferWorkload("tiny", batch_size=5, prompt_tokens=10, output_tokens=6, dtype="float64",
                             prefill_chunk_tokens=chunk_tokens, init_std=0.3, device=CPU)
        work.build()
        return work._reference_ids

    assert torch.equal(generate(20), generate(8192))  # 2 rows a chunk, then all 5 at once


def test_workload_phases_count_prompt_and_output_tokens_and_check_passes():
    work = InferWorkload("tiny", batch_size=3, prompt_tokens=10, output_tokens=6, dtype="float32", device=CPU)
    build = work.build()
    assert [p.name for p in build.phases] == ["prefill", "decode"]
    assert [p.headline for p in build.phases] == [False, True]
    assert [p.unit for p in build.phases] == ["tokens", "tokens"]
    prefill, decode = build.phases
    assert prefill.step() == 3 * 10
    assert decode.step() == 3 * 6
    assert decode.step() == 3 * 6  # restarts after the prompt: the cache never runs out
    figures = decode.derived(300.0)  # 300 tokens/s over 3 sequences: 100 steps/s
    assert figures["time_per_output_token_ms"] == pytest.approx(10.0)
    # No CPU is in the peak table: MFU is against a GEMM measured at the model's dtype in build.
    assert figures["peak_kind"] == "measured" and build.details["measured_peak"]["dtype"] == "float32"
    assert figures["mfu"] == pytest.approx(figures["model_flops_per_s"] / build.details["measured_peak"]["flops_per_s"])
    assert prefill.derived(300.0)["mfu_basis"] == figures["mfu_basis"]
    result = work.check()
    assert result["deterministic"] and result["kv_cache_vs_recompute_relative_error"] < 1e-4
    assert build.details["batch_size_measured"] == 3


def test_check_fails_when_the_cache_loses_a_position():
    work = InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=6, dtype="float32", init_std=0.3, device=CPU)
    work.build()
    decoder = work._decoder
    first_layer_cache = decoder.model.layers[0].attn.kv_cache

    def forgetful_step(ids, i):
        first_layer_cache.k[:, :, 0].zero_()  # the first prompt position's keys are lost
        return decoder.eager_step(ids, i)

    decoder.step_logits = forgetful_step
    with pytest.raises(WorkloadCheckFailed, match="differ|deterministic"):
        work.check()


def test_check_fails_when_decode_output_changes_between_runs():
    work = InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=4, dtype="float32", device=CPU)
    work.build()
    work._reference_ids[1, 2] += 1  # as if a later decode had produced another id
    with pytest.raises(WorkloadCheckFailed, match="not deterministic"):
        work.check()


def test_preset_defaults_depend_on_device_kind():
    cpu = InferWorkload.for_preset("quick", CPU)
    cuda = InferWorkload.for_preset("standard", GPU)
    assert cpu.config()["dtype"] == "float32" and cpu.config()["model"]["name"] == "gpt2-124m"
    assert cuda.config()["dtype"] == "bfloat16" and cuda.config()["model"]["name"] == "llama-8b"
    custom = InferWorkload.for_preset("quick", CPU, model="tiny", batch_size=4, prompt_tokens=7,
                                      output_tokens=3, dtype="bf16")
    assert (custom.batch_size, custom.prompt_tokens, custom.output_tokens) == (4, 7, 3)
    assert custom.config()["dtype"] == "bfloat16"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"model": "gpt5"}, "unknown model 'gpt5': expected one of tiny, tiny-gpt2, gpt2-124m"),
        ({"batch_size": 0}, "batch-size must be a positive integer, got 0"),
        ({"prompt_tokens": -3}, "prompt-tokens must be a positive integer"),
        ({"output_tokens": 0}, "output-tokens must be a positive integer"),
        ({"model": "tiny", "prompt_tokens": 500, "output_tokens": 13}, "513 positions do not fit tiny's maximum"),
        ({"dtype": "int8"}, "unknown dtype 'int8'"),
    ],
)
def test_bad_options_are_refused_in_one_line(options, message):
    with pytest.raises(BenchError, match=message) as caught:
        InferWorkload.for_preset("quick", CPU, **options)
    assert "\n" not in str(caught.value)


def test_unknown_preset_is_refused():
    with pytest.raises(BenchError, match="unknown preset 'fast'"):
        InferWorkload.for_preset("fast", CPU)


def test_a_run_too_big_for_host_memory_is_refused_before_allocating(monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=8 * 2**30))
    work = InferWorkload("llama-8b", batch_size=1, prompt_tokens=16, output_tokens=16, dtype="float32", device=CPU)
    with pytest.raises(BenchError, match=r"llama-8b .* needs about 3\d\.\d GiB; this machine has 8\.0 GiB"):
        work.build()
    with pytest.raises(BenchError, match="needs about"):  # and already when the CLI configures it
        InferWorkload.for_preset("quick", CPU, model="llama-8b")
    assert InferWorkload.for_preset("quick", CPU, model="gpt2-124m").cfg.name == "gpt2-124m"


def test_largest_fitting_batch_finds_the_limit_within_a_sixteenth():
    tried = []

    def fits(batch: int) -> bool:
        tried.append(batch)
        return batch <= 37

    found = largest_fitting_batch(fits, 256)
    assert 37 - 37 // 16 <= found <= 37
    assert len(tried) < 12
    assert largest_fitting_batch(lambda b: True, 64) == 64
    assert largest_fitting_batch(lambda b: False, 64) is None


def test_out_of_memory_is_told_apart_from_other_errors():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    # cuBLAS failing to allocate its workspace is out of memory too (issue 13 item 5).
    assert is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"))
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx"))


def test_batch_search_measures_the_compiled_decode_too(monkeypatch):
    """A batch whose eager step fits but whose compiled step (CUDA-graph pool on top) does not is
    too big: the search must try the compiled form. The device is faked as CUDA; the compiled step
    is decode_static with a cuBLAS allocation failure above 3 rows, as a full card would answer."""
    from bench.workloads import torch_build
    from bench.workloads.infer import bucketed_step

    work = InferWorkload("tiny", batch_size=8, prompt_tokens=8, output_tokens=6, dtype="float32", device=CPU)
    work._model = build_model(work.cfg, "cpu", torch.float32, seed=0, max_positions=14).eval()
    prompts = torch.randint(0, work.cfg.vocab_size, (8, 8), generator=torch.Generator().manual_seed(1))
    compiled_batches = []

    def compiled_step(decoder):
        static = bucketed_step(decoder, work._model.decode_static)

        def step(ids, i):
            compiled_batches.append(ids.shape[0])
            if ids.shape[0] > 3:
                raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
            return static(ids, i)

        return step

    monkeypatch.setattr(work, "_compiled_step", compiled_step)
    fake_cuda = SimpleNamespace(kind="cuda", name="Fake GPU", synchronize=lambda: None)
    details = {}
    with torch.inference_mode():
        batch = torch_build.fitting_batch(fake_cuda, 8, lambda b: work._fits(prompts[:b], fake_cuda), "tiny", details)
    assert batch == 3 and details == {"oom_batch": 8, "largest_batch_that_fit": 3}
    assert 8 in compiled_batches  # the eager step alone fits every batch: only the compiled one could say no
    work.decode_mode = "eager"
    compiled_batches.clear()
    with torch.inference_mode():
        assert torch_build.fitting_batch(fake_cuda, 8, lambda b: work._fits(prompts[:b], fake_cuda), "tiny", {}) == 8
    assert compiled_batches == []  # never compiled when it will not be measured


def _has_cxx_compiler() -> bool:
    import os
    import shutil

    return any(shutil.which(name) for name in (os.environ.get("CXX", ""), "g++", "c++", "clang++") if name)


@pytest.mark.slow  # torch.compile of the tiny model: ~30 s on 2 cores with a cold inductor cache
@pytest.mark.skipif(not _has_cxx_compiler(), reason="torch.compile on CPU needs a C++ compiler; none found")
def test_compiled_fixed_shape_decode_gives_the_eager_ids():
    """The fixed-shape decode is what CUDA runs under CUDA graphs; here it compiles for the CPU."""
    def reference_ids(decode_mode: str) -> torch.Tensor:
        work = InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=6, dtype="float64",
                             decode_mode=decode_mode, init_std=0.3, device=CPU)
        details = work.build().details
        assert details["decode"]["mode"] == decode_mode
        work.check()
        return work._reference_ids

    assert torch.equal(reference_ids("compiled"), reference_ids("eager"))


class FakeCuda:
    """Stands in for a CUDA device where only the decode-mode choice is under test."""

    kind = "cuda"

    def synchronize(self) -> None:
        pass


def _built_tiny(decode_mode: str = "eager") -> InferWorkload:
    work = InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=4, dtype="float64",
                         decode_mode=decode_mode, device=CPU)
    work.build()
    return work


def test_auto_decode_times_both_forms_and_keeps_the_faster(monkeypatch):
    work = _built_tiny()
    work.decode_mode = "auto"
    monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)  # the fixed-shape path, uncompiled
    choice = work._choose_decode_step(FakeCuda())
    assert set(choice["one_decode_s"]) == {"eager", "compiled"}
    assert choice["mode"] == min(choice["one_decode_s"], key=choice["one_decode_s"].get)
    assert choice["compile_s"] > 0
    work.check()  # whichever was kept still decodes right


def test_auto_decode_falls_back_to_eager_when_compiling_fails_and_says_why(monkeypatch):
    work = _built_tiny()
    work.decode_mode = "auto"

    def failing_compile(fn, **options):
        def compiled(*args):
            raise RuntimeError("no C++ compiler")
        return compiled

    monkeypatch.setattr(torch, "compile", failing_compile)
    choice = work._choose_decode_step(FakeCuda())
    assert choice["mode"] == "eager"
    assert "RuntimeError: no C++ compiler" in choice["compiled_error"]
    assert work._decoder.step_logits == work._decoder.eager_step


def test_compiled_decode_asked_for_but_failing_is_a_one_line_error(monkeypatch):
    work = _built_tiny()
    work.decode_mode = "compiled"
    monkeypatch.setattr(torch, "compile", lambda fn, **options: lambda *args: 1 / 0)
    with pytest.raises(BenchError, match="compiled decode failed: ZeroDivisionError"):
        work._choose_decode_step(FakeCuda())


# -- issue 13 item 4: compiled decode attends to the filled prefix, bucketed --------------------

def test_attend_lengths_cover_the_filled_prefix_in_at_most_seven_buckets():
    from bench.workloads.infer import attend_lengths

    for prompt, output in [(512, 256), (32, 8), (10, 3), (128, 1), (100, 17)]:
        lengths = attend_lengths(prompt, output)
        assert len(lengths) == output and len(set(lengths)) <= 7
        assert all(prompt + i + 1 <= n <= prompt + output for i, n in enumerate(lengths))
        assert lengths == sorted(lengths)
    standard = attend_lengths(512, 256)
    # Standard preset: the whole 768-position cache read 20% more than the filled prefix (mean
    # 640.5); the buckets leave about 3% over it.
    assert sum(standard) / 256 < 1.035 * (512 + 257 / 2)


def _tiny_decoder(seed_prompts=7):
    cfg = SHAPES["tiny"]
    model = build_model(cfg, "cpu", torch.float64, seed=0, max_positions=40, init_std=0.3).eval()
    prompts = torch.randint(0, cfg.vocab_size, (2, 12), generator=torch.Generator().manual_seed(seed_prompts))
    return model, GreedyDecoder(model, prompts, output_tokens=20, prefill_chunk_tokens=8192)


def test_compiled_bucketed_decode_is_one_graph_per_bucket_and_generates_eager_ids():
    from torch._dynamo.testing import CompileCounter

    from bench.workloads.infer import bucketed_step

    model, decoder = _tiny_decoder()
    with torch.inference_mode():
        decoder.prefill()
        decoder.decode()
        eager_ids = decoder.generated_ids()
        torch._dynamo.reset()
        counter = CompileCounter()  # dynamo's tracing, without inductor's slow CPU code generation
        decoder.step_logits = bucketed_step(decoder, torch.compile(model.decode_static, backend=counter,
                                                                   fullgraph=True, dynamic=False))
        decoder.touch_buckets()
        compiled_in_warm_up = counter.frame_count
        decoder.prefill()
        decoder.decode()
        compiled_ids = decoder.generated_ids()
    torch._dynamo.reset()
    assert torch.equal(compiled_ids, eager_ids)
    buckets = len(set(decoder.attend_lengths))
    assert buckets > 1
    assert compiled_in_warm_up == counter.frame_count == buckets  # nothing left to compile in a timed decode
