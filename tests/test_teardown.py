"""Teardown between workloads (issue 13 item 2): what a workload built is freed before the next builds."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import pytest

from bench import runner
from bench.results import load_result
from bench.workloads.base import release
from bench.workloads.infer import InferWorkload
from bench.workloads.train import TrainWorkload
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload


@pytest.mark.parametrize("make", [
    lambda: InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=4, dtype="float32", device=CPU),
    lambda: TrainWorkload("tiny", batch_size=2, seq_len=8, dtype="float32", device=CPU),
], ids=["infer", "train"])
def test_release_frees_the_model_and_what_hangs_off_it(make):
    work = make()
    work.build()
    model = work._model if isinstance(work, InferWorkload) else work._trainer.model
    cache = model.layers[0].attn.kv_cache if isinstance(work, InferWorkload) else None
    refs = [weakref.ref(model)] + ([weakref.ref(cache.k)] if cache is not None else [])
    del model, cache
    notes = release(work, CPU)
    assert all(ref() is None for ref in refs), "model or KV cache still alive after teardown"
    assert notes["process_rss_bytes"] > 0 and "resident" in notes["basis"]


@dataclass
class _Holding(FakeWorkload):
    """A fake workload that holds a big object until closed."""

    held: object = None
    closed: bool = False

    def build(self):
        self.held = bytearray(1 << 20)
        return super().build()

    def close(self) -> None:
        self.held, self.closed = None, True


def test_runner_releases_every_workload_and_records_memory_after(tmp_path):
    clock = FakeClock()
    meter = FakeMeter(clock)
    first = _Holding(clock)
    broken = _Holding(clock, name="infer", fail_in="check")
    plain = FakeWorkload(clock, name="train")  # no close(): release must still work
    path = tmp_path / "m" / "r.json"
    document = runner.run(
        runner.new_document(tool={"version": "t"}, machine={}, device={"name": "Test CPU", "kind": "cpu"},
                            protocol=runner.PRESETS["quick"], meter={"name": "fake"}),
        [first, broken, plain], CPU, meter, runner.PRESETS["quick"], path, clock=clock, sleep=clock.sleep)
    assert first.closed and first.held is None
    assert broken.closed and broken.held is None  # a failed workload is freed too
    ok = [w for w in document["workloads"] if w["status"] == "ok"]
    assert [w["name"] for w in ok] == ["mine", "train"]
    for entry in ok:
        assert entry["build"]["memory_after_teardown"]["process_rss_bytes"] > 0
    saved = load_result(path)  # the result format takes the new build detail as it is
    assert saved["workloads"][0]["build"]["memory_after_teardown"] == ok[0]["build"]["memory_after_teardown"]


def test_a_close_that_raises_is_recorded_not_fatal():
    class Bad:
        def close(self):
            raise RuntimeError("double free")

    notes = release(Bad(), CPU)
    assert notes["close_error"] == "RuntimeError: double free"


def test_release_frees_a_model_that_a_compiled_decode_captured():
    from torch._dynamo.testing import CompileCounter

    from bench.workloads.infer import bucketed_step

    import torch

    work = InferWorkload("tiny", batch_size=2, prompt_tokens=8, output_tokens=4, dtype="float32", device=CPU)
    work.build()
    decoder = work._decoder
    decoder.step_logits = bucketed_step(decoder, torch.compile(work._model.decode_static, backend=CompileCounter(),
                                                               fullgraph=True, dynamic=False))
    with torch.inference_mode():
        decoder.touch_buckets()
    ref = weakref.ref(work._model)
    del decoder
    release(work, CPU)
    assert ref() is None, "a compiled graph kept the model alive"
