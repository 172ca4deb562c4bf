"""A decoder-only transformer for the AI workloads: one model file, pure torch, no timing.

Two styles share the code:
  gpt2   LayerNorm, learned positions, GELU MLP, biases, tied LM head (GPT-2 124M).
  llama  RMSNorm, rotary embeddings, SwiGLU MLP, grouped-query attention, no biases
         (Llama 3.2 1B and Llama 3.1 8B shapes).

Weights are random (a seeded normal init): nothing is downloaded, and tokens/s does not depend on
weight values. Attention goes through ``F.scaled_dot_product_attention``.

Entry points:
  forward(ids)               full causal pass, logits at every position (training, reference)
  prefill(ids, rows)         fills KV-cache rows ``rows`` for positions 0..T-1, last-position logits
  decode(ids, pos)           one token per sequence at position ``pos`` (int), attends to
                             the cache up to ``pos`` only
  decode_static(ids, pos, length)
                             the same with ``pos`` a 1-element tensor, attending to the first
                             ``length`` cache positions (an int: a bucket the caller picks so that
                             length > pos) under a mask hiding those after ``pos``: fixed shapes
                             per length, so torch.compile / CUDA graphs capture one graph per
                             bucket and read only the filled part of the cache, not all of it
Call ``setup_cache(batch, length)`` before prefill/decode.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

GPT2 = "gpt2"
LLAMA = "llama"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    style: str  # GPT2 or LLAMA
    vocab_size: int
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    max_seq_len: int
    tie_embeddings: bool
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def layer_matmul_params(self) -> int:
        """Weights of one block's matrix multiplies (attention and MLP)."""
        d = self.d_model
        attention = d * (d + 2 * self.kv_dim) + d * d
        mlp = (3 if self.style == LLAMA else 2) * d * self.d_ff
        return attention + mlp

    def matmul_params(self) -> int:
        """Weights every token multiplies by (blocks and LM head); embedding lookups excluded."""
        return self.n_layers * self.layer_matmul_params() + self.vocab_size * self.d_model

    def param_count(self) -> int:
        d = self.d_model
        embeddings = self.vocab_size * d + (self.max_seq_len * d if self.style == GPT2 else 0)
        head = 0 if self.tie_embeddings else self.vocab_size * d
        if self.style == GPT2:
            # biases of qkv, out, fc, proj and two LayerNorms (weight + bias) per block, final LayerNorm
            per_layer_small = (d + 2 * self.kv_dim) + d + self.d_ff + d + 4 * d
            final_norm = 2 * d
        else:
            per_layer_small = 2 * d  # two RMSNorm weights
            final_norm = d
        return embeddings + head + self.n_layers * (self.layer_matmul_params() + per_layer_small) + final_norm

    def forward_flops_per_token(self, context_tokens: int) -> float:
        """Matmul FLOPs of one token's forward pass attending to ``context_tokens`` positions.

        2 FLOPs per weight, plus QK^T and AV (2 x 2 x d_model x context per layer); the PaLM
        appendix B convention, which counts the full context rather than half of it for causal.
        """
        return 2.0 * self.matmul_params() + 4.0 * self.n_layers * self.d_model * context_tokens

    def train_flops_per_token(self, seq_len: int) -> float:
        """Forward + backward (twice the forward) FLOPs per trained token."""
        return 3.0 * self.forward_flops_per_token(seq_len)

    def kv_cache_bytes(self, batch: int, length: int, bytes_per_element: int) -> int:
        return 2 * self.n_layers * batch * length * self.kv_dim * bytes_per_element

    def to_dict(self) -> dict:
        return {**asdict(self), "params": self.param_count()}


SHAPES: dict[str, ModelConfig] = {
    # CI shape: a Llama-style block (GQA, RoPE, SwiGLU) that runs in milliseconds on a CPU.
    "tiny": ModelConfig("tiny", LLAMA, vocab_size=256, n_layers=2, d_model=64, n_heads=4, n_kv_heads=2,
                        d_ff=176, max_seq_len=512, tie_embeddings=True),
    # Same size, GPT-2 style, so CI covers both code paths.
    "tiny-gpt2": ModelConfig("tiny-gpt2", GPT2, vocab_size=256, n_layers=2, d_model=64, n_heads=4, n_kv_heads=4,
                             d_ff=256, max_seq_len=512, tie_embeddings=True),
    "gpt2-124m": ModelConfig("gpt2-124m", GPT2, vocab_size=50257, n_layers=12, d_model=768, n_heads=12,
                             n_kv_heads=12, d_ff=3072, max_seq_len=1024, tie_embeddings=True),
    # Llama 3.2 1B / Llama 3.1 8B shapes (their long-context RoPE frequency scaling is left out: it
    # changes values, not work).
    "llama-1b": ModelConfig("llama-1b", LLAMA, vocab_size=128256, n_layers=16, d_model=2048, n_heads=32,
                            n_kv_heads=8, d_ff=8192, max_seq_len=131072, tie_embeddings=True,
                            rope_theta=500_000.0),
    "llama-8b": ModelConfig("llama-8b", LLAMA, vocab_size=128256, n_layers=32, d_model=4096, n_heads=32,
                            n_kv_heads=8, d_ff=14336, max_seq_len=131072, tie_embeddings=False,
                            rope_theta=500_000.0),
}

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
    "float64": torch.float64, "fp64": torch.float64,
}


def shape(name: str) -> ModelConfig:
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(SHAPES)}") from None


def parse_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}: expected float32, bfloat16 or float16") from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


class KVCache(nn.Module):
    """Preallocated keys and values of one layer: (batch, kv heads, length, head dim).

    Buffers of the module, so a compiled decode sees them at fixed addresses (CUDA graphs).
    """

    def __init__(self, batch: int, n_kv_heads: int, length: int, head_dim: int, dtype: torch.dtype,
                 device: torch.device | str):
        super().__init__()
        cache_shape = (batch, n_kv_heads, length, head_dim)
        self.register_buffer("k", torch.zeros(cache_shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(cache_shape, dtype=dtype, device=device), persistent=False)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        bias = cfg.style == GPT2
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.q_dim, self.kv_dim = cfg.n_heads * cfg.head_dim, cfg.kv_dim
        self.wqkv = nn.Linear(cfg.d_model, self.q_dim + 2 * self.kv_dim, bias=bias)  # one matmul, not three
        self.wo = nn.Linear(self.q_dim, cfg.d_model, bias=bias)
        self.kv_cache: KVCache | None = None

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None, mode: str,
                start: int = 0, rows: slice = slice(None), pos: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, seq, _ = x.shape
        q, k, v = self.wqkv(x).split([self.q_dim, self.kv_dim, self.kv_dim], dim=-1)
        q = q.view(batch, seq, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(batch, seq, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            cos, sin = rope
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if mode == "full":  # no cache: causal attention within x
            y = self._attend(q, k, v, causal=True)
        elif mode == "prefill":
            cache = self.kv_cache
            cache.k[rows, :, start:start + seq] = k
            cache.v[rows, :, start:start + seq] = v
            if start == 0:
                y = self._attend(q, k, v, causal=True)
            else:  # a later chunk: its queries see everything before them
                keys, values = cache.k[rows, :, :start + seq], cache.v[rows, :, :start + seq]
                visible = torch.ones(seq, start + seq, dtype=torch.bool, device=x.device).tril(start)
                y = self._attend(q, keys, values, mask=visible)
        elif mode == "decode":  # seq == 1 at position ``start``: attend to the filled part only
            cache = self.kv_cache
            cache.k[:, :, start] = k[:, :, 0]
            cache.v[:, :, start] = v[:, :, 0]
            y = self._attend_one(q, cache.k[:, :, :start + 1], cache.v[:, :, :start + 1], mask=None)
        else:  # "static": fixed shapes for graph capture; the mask hides positions after ``pos``
            cache = self.kv_cache
            cache.k.index_copy_(2, pos, k)
            cache.v.index_copy_(2, pos, v)
            length = mask.shape[-1]  # the bucket: only these positions are read
            y = self._attend_one(q, cache.k[:, :, :length], cache.v[:, :, :length], mask=mask)
        return self.wo(y.transpose(1, 2).reshape(batch, seq, self.q_dim))

    def _attend(self, q, k, v, causal: bool = False, mask: torch.Tensor | None = None) -> torch.Tensor:
        gqa = self.n_kv_heads != self.n_heads
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=gqa)

    def _attend_one(self, q, k, v, mask: torch.Tensor | None) -> torch.Tensor:
        """One query per sequence: fold the query heads sharing a KV head into the query axis,
        so grouped-query attention reads each cached key once instead of copying it per head."""
        batch = q.shape[0]
        group = self.n_heads // self.n_kv_heads
        q = q.reshape(batch, self.n_kv_heads, group, self.head_dim)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return y.reshape(batch, self.n_heads, 1, self.head_dim)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.swiglu = cfg.style == LLAMA
        if self.swiglu:
            self.w13 = nn.Linear(cfg.d_model, 2 * cfg.d_ff, bias=False)  # gate and up in one matmul
            self.w2 = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        else:
            self.w1 = nn.Linear(cfg.d_model, cfg.d_ff)
            self.w2 = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swiglu:
            gate, up = self.w13(x).chunk(2, dim=-1)
            return self.w2(F.silu(gate) * up)
        return self.w2(F.gelu(self.w1(x), approximate="tanh"))


class PackedLinear(nn.Module):
    """Inference-only stand-in for a float32 ``nn.Linear`` on CPU: the weight reordered once by oneDNN.

    torch's default CPU matmul (MKL sgemm) re-packs the whole weight matrix on every call; with the
    few rows of a decode step that costs about as much as the multiply itself (GPT-2 124M decode at
    batch 8 took ~1.7x longer per step on our Zen 3). Prepacked oneDNN weights are also what
    torch.compile's CPU freezing pass uses. The original weight is dropped with the nn.Linear.
    """

    def __init__(self, linear: nn.Linear, rows_hint: int):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        # Plain attributes, not buffers: the opaque packed layout must not go through .to().
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight, rows_hint)
        self.bias = None if linear.bias is None else linear.bias.detach()
        probe = torch.randn(rows_hint, self.in_features, dtype=weight.dtype)
        want, got = F.linear(probe, weight, self.bias), self.forward(probe)
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max())):
            raise RuntimeError("oneDNN packed linear disagrees with torch.nn.functional.linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [], "")


def _norm(cfg: ModelConfig) -> nn.Module:
    if cfg.style == LLAMA:
        return nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
    return nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm, self.attn = _norm(cfg), Attention(cfg)
        self.mlp_norm, self.mlp = _norm(cfg), MLP(cfg)

    def forward(self, x: torch.Tensor, rope, mode: str, **where) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), rope, mode, **where)
        return x + self.mlp(self.mlp_norm(x))


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding, rotate-half convention; ``cos``/``sin`` are (positions, head_dim)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def rope_tables(head_dim: int, positions: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(positions, dtype=torch.float64), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().float(), angles.sin().float()


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, max_positions: int | None = None):
        """``max_positions`` (<= cfg.max_seq_len) sizes the position tables to what a run uses."""
        super().__init__()
        self.cfg = cfg
        self.max_positions = max_positions or cfg.max_seq_len
        if self.max_positions > cfg.max_seq_len:
            raise ValueError(f"{cfg.name} takes at most {cfg.max_seq_len} positions, {self.max_positions} asked")
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(self.max_positions, cfg.d_model) if cfg.style == GPT2 else None
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = _norm(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        self.rope_cos: torch.Tensor | None
        self.rope_sin: torch.Tensor | None
        if cfg.style == LLAMA:
            cos, sin = rope_tables(cfg.head_dim, self.max_positions, cfg.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.rope_cos = self.rope_sin = None

    # -- setup -------------------------------------------------------------------------------
    def init_weights(self, seed: int, std: float = 0.02) -> None:
        """Seeded GPT-2-style init: N(0, std), residual projections scaled by 1/sqrt(2 layers).

        Tests use a larger ``std``: at 0.02 a random model's greedy output repeats one token, which
        would let a broken cache go unnoticed.
        """
        device = self.tok_emb.weight.device
        generator = torch.Generator(device=device).manual_seed(seed)
        residual_std = std / math.sqrt(2 * self.cfg.n_layers)
        with torch.no_grad():
            for name, param in self.named_parameters():
                if param.dim() >= 2:
                    scale = residual_std if name.endswith(("attn.wo.weight", "mlp.w2.weight")) else std
                    param.normal_(0.0, scale, generator=generator)
                elif name.endswith("bias"):
                    param.zero_()
                else:  # norm gains
                    param.fill_(1.0)
            if self.cfg.style == LLAMA:
                cos, sin = rope_tables(self.cfg.head_dim, self.max_positions, self.cfg.rope_theta)
                self.rope_cos.copy_(cos)
                self.rope_sin.copy_(sin)

    def pack_linears_for_cpu(self, rows_hint: int) -> str:
        """Swap every nn.Linear for a PackedLinear (float32 CPU inference); say what was done."""
        weight = self.tok_emb.weight
        if weight.device.type != "cpu" or weight.dtype != torch.float32:
            return "torch.nn.Linear (oneDNN prepacking used for float32 on CPU only)"
        linears = [(parent, name, child) for parent in self.modules()
                   for name, child in parent.named_children() if isinstance(child, nn.Linear)]
        try:
            packed = [(parent, name, PackedLinear(child, rows_hint)) for parent, name, child in linears]
        except (RuntimeError, AttributeError) as exc:  # op missing in this torch build, or wrong
            return f"torch.nn.Linear (oneDNN prepacking unavailable: {' '.join(str(exc).split())[:200]})"
        for parent, name, module in packed:
            setattr(parent, name, module)
        return f"oneDNN prepacked weights for {rows_hint}-row matmuls"

    def setup_cache(self, batch: int, length: int) -> None:
        """Allocate every layer's KV cache for ``batch`` sequences of up to ``length`` positions."""
        if length > self.max_positions:
            raise ValueError(f"a {length}-position cache does not fit {self.max_positions} position tables")
        weight = self.tok_emb.weight
        self.drop_cache()
        for block in self.layers:
            block.attn.kv_cache = KVCache(batch, self.cfg.n_kv_heads, length, self.cfg.head_dim,
                                          weight.dtype, weight.device)
        self.register_buffer("cache_positions", torch.arange(length, device=weight.device), persistent=False)

    def drop_cache(self) -> None:
        for block in self.layers:
            block.attn.kv_cache = None

    # -- passes ------------------------------------------------------------------------------
    def _embed(self, ids: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        x = self.tok_emb(ids)
        if self.pos_emb is not None:
            return x + self.pos_emb(positions), None
        return x, (self.rope_cos[positions], self.rope_sin[positions])

    def _blocks(self, x: torch.Tensor, rope, mode: str, **where) -> torch.Tensor:
        for block in self.layers:
            x = block(x, rope, mode, **where)
        return self.norm(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (batch, seq, vocab) of a full causal pass; no cache involved."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x, rope = self._embed(ids, positions)
        return self.lm_head(self._blocks(x, rope, "full"))

    def prefill(self, ids: torch.Tensor, rows: slice = slice(None), start: int = 0) -> torch.Tensor:
        """Write positions start..start+T-1 of cache rows ``rows``; logits of the last position only."""
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x, rope = self._embed(ids, positions)
        x = self._blocks(x, rope, "prefill", start=start, rows=rows)
        return self.lm_head(x[:, -1])

    def decode(self, ids: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits (batch, vocab) for ``ids`` (batch, 1) at position ``pos``."""
        x, rope = self._embed(ids, self.cache_positions[pos:pos + 1])
        return self.lm_head(self._blocks(x, rope, "decode", start=pos)[:, 0])

    def decode_static(self, ids: torch.Tensor, pos: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """``decode`` with ``pos`` a 1-element tensor and fixed shapes (for torch.compile), attending
        to the first ``length`` cache positions (default: the whole cache); ``length`` > pos."""
        x, rope = self._embed(ids, pos)
        mask = (self.cache_positions[:length] <= pos).view(1, 1, 1, -1)
        return self.lm_head(self._blocks(x, rope, "static", pos=pos, mask=mask)[:, 0])


def build_model(cfg: ModelConfig, device: torch.device | str, dtype: torch.dtype, seed: int,
                max_positions: int | None = None, init_std: float = 0.02) -> Transformer:
    """Allocate the model straight in ``dtype`` on ``device`` (no float32 copy first) and init it."""
    with torch.device("meta"):
        model = Transformer(cfg, max_positions)
    model = model.to(dtype).to_empty(device=device)
    if cfg.tie_embeddings:  # to_empty makes a new tensor per module and so unties shared weights
        model.lm_head.weight = model.tok_emb.weight
    model.init_weights(seed, init_std)
    return model
