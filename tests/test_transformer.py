"""The model file: named shapes have the published sizes, and every pass computes the same thing."""

from __future__ import annotations

import pytest
import torch

from bench.errors import BenchError
from bench.workloads.torch_build import parse_dtype, shape
from kernels.transformer import SHAPES, Transformer, build_model

TINY_SHAPES = ("tiny", "tiny-gpt2")


@pytest.mark.parametrize(
    "name, published_params",
    [
        ("gpt2-124m", 124_439_808),  # GPT-2 small with tied LM head
        ("llama-1b", 1_235_814_400),  # Llama 3.2 1B
        ("llama-8b", 8_030_261_248),  # Llama 3.1 8B
    ],
)
def test_named_shapes_have_published_parameter_counts(name, published_params):
    cfg = SHAPES[name]
    with torch.device("meta"):  # no memory: only shapes
        model = Transformer(cfg)
    assert sum(p.numel() for p in model.parameters()) == published_params
    assert cfg.param_count() == published_params


def test_llama_shapes_use_grouped_query_attention_and_gpt2_does_not():
    assert SHAPES["llama-8b"].n_kv_heads < SHAPES["llama-8b"].n_heads
    assert SHAPES["tiny"].n_kv_heads < SHAPES["tiny"].n_heads
    assert SHAPES["gpt2-124m"].n_kv_heads == SHAPES["gpt2-124m"].n_heads


def test_unknown_model_error_lists_the_known_ones():
    with pytest.raises(BenchError, match="unknown model 'gpt5'.*tiny.*gpt2-124m.*llama-8b"):
        shape("gpt5")


def test_dtype_aliases_and_unknown_dtype():
    assert parse_dtype("bf16") is torch.bfloat16
    assert parse_dtype("Float32") is torch.float32
    with pytest.raises(BenchError, match="unknown dtype 'int8'"):
        parse_dtype("int8")


def test_same_seed_gives_same_weights_and_other_seed_does_not():
    a = build_model(SHAPES["tiny"], "cpu", torch.float32, seed=3)
    b = build_model(SHAPES["tiny"], "cpu", torch.float32, seed=3)
    c = build_model(SHAPES["tiny"], "cpu", torch.float32, seed=4)
    assert torch.equal(a.layers[0].attn.wqkv.weight, b.layers[0].attn.wqkv.weight)
    assert not torch.equal(a.layers[0].attn.wqkv.weight, c.layers[0].attn.wqkv.weight)
    assert a.lm_head.weight is a.tok_emb.weight  # tying survives the meta-device build


@pytest.mark.parametrize("name", TINY_SHAPES)
def test_prefill_then_decode_logits_equal_full_recompute(name):
    cfg = SHAPES[name]
    model = build_model(cfg, "cpu", torch.float64, seed=0, max_positions=32, init_std=0.3).eval()
    ids = torch.randint(0, cfg.vocab_size, (3, 20), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = model(ids)
        model.setup_cache(3, 32)
        prefill = model.prefill(ids[:, :12])
        steps = [model.decode(ids[:, t:t + 1], t) for t in range(12, 20)]
    torch.testing.assert_close(prefill, full[:, 11])
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 12:20])


@pytest.mark.parametrize("name", TINY_SHAPES)
def test_static_decode_and_chunked_prefill_equal_eager(name):
    """decode_static is what torch.compile captures on CUDA; prefill in row chunks and in a later
    position chunk must write the same cache as one prefill."""
    cfg = SHAPES[name]
    model = build_model(cfg, "cpu", torch.float64, seed=0, max_positions=32, init_std=0.3).eval()
    ids = torch.randint(0, cfg.vocab_size, (4, 20), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        full = model(ids)
        model.setup_cache(4, 32)
        model.prefill(ids[:2, :12], rows=slice(0, 2))
        model.prefill(ids[2:, :8], rows=slice(2, 4))
        later = model.prefill(ids[2:, 8:12], rows=slice(2, 4), start=8)
        steps = [model.decode_static(ids[:, t:t + 1], torch.tensor([t])) for t in range(12, 20)]
    torch.testing.assert_close(later, full[2:, 11])
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 12:20])


@pytest.mark.parametrize("name", TINY_SHAPES)
def test_static_decode_over_a_bucket_equals_eager_and_reads_only_the_bucket(name, monkeypatch):
    from kernels import transformer

    cfg = SHAPES[name]
    model = build_model(cfg, "cpu", torch.float64, seed=0, max_positions=32, init_std=0.3).eval()
    ids = torch.randint(0, cfg.vocab_size, (2, 20), generator=torch.Generator().manual_seed(3))
    key_lengths = []
    sdpa = transformer.F.scaled_dot_product_attention

    def recording(q, k, v, **kwargs):
        key_lengths.append(k.shape[-2])
        return sdpa(q, k, v, **kwargs)

    with torch.inference_mode():
        full = model(ids)
        model.setup_cache(2, 32)
        model.prefill(ids[:, :12])
        monkeypatch.setattr(transformer.F, "scaled_dot_product_attention", recording)
        steps = [model.decode_static(ids[:, t:t + 1], torch.tensor([t]), 16 if t < 16 else 24) for t in range(12, 20)]
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 12:20])
    assert sorted(set(key_lengths)) == [16, 24]  # the bucket, never the 32-position cache


def test_packed_cpu_linears_compute_what_the_plain_model_does():
    cfg = SHAPES["tiny-gpt2"]
    plain = build_model(cfg, "cpu", torch.float32, seed=0, max_positions=32, init_std=0.3).eval()
    packed = build_model(cfg, "cpu", torch.float32, seed=0, max_positions=32, init_std=0.3).eval()
    how = packed.pack_linears_for_cpu(rows_hint=4)
    if not how.startswith("oneDNN"):
        pytest.skip(how)  # a torch build without the op keeps plain nn.Linear, said so in the result
    assert not any(isinstance(m, torch.nn.Linear) for m in packed.modules())
    ids = torch.randint(0, cfg.vocab_size, (4, 16), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(packed(ids), plain(ids), rtol=1e-4, atol=1e-4)


def test_packing_is_refused_for_other_dtypes_with_a_reason():
    model = build_model(SHAPES["tiny"], "cpu", torch.float64, seed=0)
    assert "float32 on CPU only" in model.pack_linears_for_cpu(rows_hint=1)
    assert any(isinstance(m, torch.nn.Linear) for m in model.modules())


def test_flops_per_token_follow_the_palm_count():
    cfg = SHAPES["gpt2-124m"]
    # 6 x matmul weights + 12 x layers x d_model x context (PaLM appendix B), for training
    assert cfg.train_flops_per_token(1024) == 6 * cfg.matmul_params() + 12 * 12 * 768 * 1024
    assert cfg.matmul_params() == 12 * (4 * 768 * 768 + 2 * 768 * 3072) + 50257 * 768


def test_positions_beyond_the_shape_are_refused():
    with pytest.raises(ValueError, match="at most 512 positions"):
        Transformer(SHAPES["tiny"], max_positions=513)
