"""An inference service for ``bench serve``: a seeded Poisson trace of requests, served with
continuous batching, and optionally mining in the gaps.

Trace: arrivals of a Poisson process at ``rate_per_s`` over ``seconds`` (seeded), every request
with the preset's prompt and output lengths (greedy, no end-of-sequence stop, as ``infer``).

Scheduler (iteration-level, as Orca and vLLM do): the KV cache holds ``slots`` sequences; each
iteration first admits waiting requests into free slots and prefills them together (their first
token), otherwise runs one decode step for every sequence in flight, each at its own position
(``decode_rows``: the model's own weights and cache, per-row positions and masks). A finished
sequence frees its slot at once, so a new request joins the batch without waiting for the others.

Gap mining: when nothing is waiting or in flight, the server mines one chunk (a mining step sized
to ``chunk_s`` at the measured hash rate) and then looks for arrivals; a request that arrived
during a chunk waits at most for the rest of that chunk (its ``mining_wait_s``). That is the
bound: one chunk, whose measured durations are recorded. Without gap mining the idle server
sleeps until the next arrival (an event-driven server's wake-up).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F

from bench.stats import quantile
from kernels.transformer import Transformer, apply_rope


@dataclass(frozen=True)
class Request:
    index: int
    arrival_s: float  # from the start of the trace
    prompt_tokens: int
    output_tokens: int


def poisson_trace(rate_per_s: float, seconds: float, prompt_tokens: int, output_tokens: int,
                  seed: int = 0) -> list[Request]:
    """Arrivals of a Poisson process (exponential gaps) in [0, seconds); the same seed, the same trace."""
    rng = random.Random(seed)
    requests: list[Request] = []
    t = rng.expovariate(rate_per_s)
    while t < seconds:
        requests.append(Request(len(requests), t, prompt_tokens, output_tokens))
        t += rng.expovariate(rate_per_s)
    return requests


def decode_rows(model: Transformer, rows: torch.Tensor, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """One decode step for cache rows ``rows`` (n,), token ``ids`` (n,) at ``positions`` (n,),
    each row at its own position: logits (n, vocab). What ``Transformer.decode`` computes for a
    batch at one position, here with a position and an attention mask per row."""
    n = rows.shape[0]
    x = model.tok_emb(ids.view(n, 1))
    if model.pos_emb is not None:
        x, rope = x + model.pos_emb(positions).unsqueeze(1), None
    else:
        rope = (model.rope_cos[positions].view(n, 1, 1, -1), model.rope_sin[positions].view(n, 1, 1, -1))
    length = int(positions.max()) + 1  # read the cache only as far as the longest sequence
    visible = (model.cache_positions[:length].view(1, -1) <= positions.view(-1, 1)).view(n, 1, 1, length)
    for block in model.layers:
        attn = block.attn
        q, k, v = attn.wqkv(block.attn_norm(x)).split([attn.q_dim, attn.kv_dim, attn.kv_dim], dim=-1)
        q = q.view(n, 1, attn.n_heads, attn.head_dim).transpose(1, 2)
        k = k.view(n, 1, attn.n_kv_heads, attn.head_dim).transpose(1, 2)
        v = v.view(n, 1, attn.n_kv_heads, attn.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        cache = attn.kv_cache
        cache.k[rows, :, positions] = k[:, :, 0]
        cache.v[rows, :, positions] = v[:, :, 0]
        # Query heads sharing a KV head folded together, as the model's own decode does.
        group = attn.n_heads // attn.n_kv_heads
        y = F.scaled_dot_product_attention(q.reshape(n, attn.n_kv_heads, group, attn.head_dim),
                                           cache.k[rows, :, :length], cache.v[rows, :, :length], attn_mask=visible)
        x = x + attn.wo(y.reshape(n, attn.n_heads, 1, attn.head_dim).transpose(1, 2).reshape(n, 1, attn.q_dim))
        x = x + block.mlp(block.mlp_norm(x))
    return model.lm_head(model.norm(x)[:, 0])


@dataclass
class Served:
    """One request's times, in seconds from the start of the trace."""

    index: int
    arrival_s: float
    first_token_s: float
    finish_s: float
    output_tokens: int
    mining_wait_s: float = 0.0  # how long a mining chunk held it after it arrived

    @property
    def ttft_s(self) -> float:
        return self.first_token_s - self.arrival_s

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first; None for a one-token request."""
        return (self.finish_s - self.first_token_s) / (self.output_tokens - 1) if self.output_tokens > 1 else None


@dataclass
class PassRecord:
    served: list[Served] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0
    prompt_tokens: int = 0
    prefills: int = 0
    decode_steps: int = 0
    max_batch: int = 0
    busy_s: float = 0.0  # prefill and decode time
    hashes: int = 0
    chunk_s: list[float] = field(default_factory=list)
    ids: dict[int, list[int]] = field(default_factory=dict)  # request index -> generated ids

    @property
    def output_tokens(self) -> int:
        return sum(s.output_tokens for s in self.served)


class Server:
    """A model with a ``slots``-row KV cache, serving a trace with continuous batching."""

    def __init__(self, model: Transformer, device, slots: int, prompt_tokens: int, output_tokens: int, seed: int):
        self.model, self.device, self.slots = model, device, slots
        self.prompt_tokens, self.output_tokens, self.seed = prompt_tokens, output_tokens, seed
        self.torch_device = model.tok_emb.weight.device
        model.setup_cache(slots, prompt_tokens + output_tokens)

    def prompt(self, request: Request) -> torch.Tensor:
        """Request ``index``'s prompt: seeded by its index, so every pass serves the same tokens."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + request.index)
        return torch.randint(0, self.model.cfg.vocab_size, (request.prompt_tokens,), generator=generator)

    def run(self, trace: list[Request], *, mine_chunk: Callable[[], int] | None = None,
            clock: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep) -> PassRecord:
        record = PassRecord()
        prompts = {r.index: self.prompt(r).to(self.torch_device) for r in trace}
        pending, waiting = deque(trace), deque()
        active: dict[int, dict[str, Any]] = {}  # slot -> request state
        free = list(range(self.slots - 1, -1, -1))
        sync = self.device.synchronize
        mining_waits: dict[int, float] = {}
        start = clock()
        while pending or waiting or active:
            now = clock() - start
            while pending and pending[0].arrival_s <= now:
                waiting.append(pending.popleft())
            if not waiting and not active:
                if mine_chunk is None:
                    sleep(max(0.0, pending[0].arrival_s - now))
                    waiting.append(pending.popleft())  # its time has come (float rounding must not spin)
                    continue
                chunk_start = now
                record.hashes += mine_chunk()
                sync()
                now = clock() - start
                record.chunk_s.append(now - chunk_start)
                while pending and pending[0].arrival_s <= now:  # arrived during the chunk: held to its end
                    request = pending.popleft()
                    waiting.append(request)
                    mining_waits[request.index] = now - request.arrival_s
                continue
            record.iterations += 1
            t0 = clock()
            with torch.inference_mode():
                if waiting and free:
                    self._prefill(waiting, free, active, prompts, record, start, clock)
                else:
                    self._decode(active, free, record, start, clock)
            record.busy_s += clock() - t0
        record.seconds = clock() - start
        for served in record.served:
            served.mining_wait_s = mining_waits.get(served.index, 0.0)
        return record

    def _prefill(self, waiting, free, active, prompts, record: PassRecord, start, clock) -> None:
        admitted = []
        while waiting and free:
            admitted.append((free.pop(), waiting.popleft()))
        rows = torch.tensor([slot for slot, _ in admitted], device=self.torch_device)
        batch = torch.stack([prompts[r.index] for _, r in admitted])
        first = self.model.prefill(batch, rows=rows).argmax(dim=-1)
        first_ids = first.tolist()  # reads the result back: the device is synchronized here
        self.device.synchronize()
        t = clock() - start
        record.prefills += 1
        record.prompt_tokens += sum(r.prompt_tokens for _, r in admitted)
        for (slot, request), token in zip(admitted, first_ids):
            state = {"request": request, "first_s": t, "next": token, "position": request.prompt_tokens, "done": 1}
            record.ids[request.index] = [token]
            if request.output_tokens == 1:
                self._finish(slot, state, t, free, record)
            else:
                active[slot] = state
        record.max_batch = max(record.max_batch, len(active))

    def _decode(self, active, free, record: PassRecord, start, clock) -> None:
        slots = sorted(active)
        rows = torch.tensor(slots, device=self.torch_device)
        ids = torch.tensor([active[s]["next"] for s in slots], device=self.torch_device)
        positions = torch.tensor([active[s]["position"] for s in slots], device=self.torch_device)
        tokens = decode_rows(self.model, rows, ids, positions).argmax(dim=-1).tolist()
        self.device.synchronize()
        t = clock() - start
        record.decode_steps += 1
        record.max_batch = max(record.max_batch, len(slots))
        for slot, token in zip(slots, tokens):
            state = active[slot]
            state["next"], state["position"], state["done"] = token, state["position"] + 1, state["done"] + 1
            record.ids[state["request"].index].append(token)
            if state["done"] == state["request"].output_tokens:
                del active[slot]
                self._finish(slot, state, t, free, record)

    @staticmethod
    def _finish(slot: int, state: dict[str, Any], t: float, free: list[int], record: PassRecord) -> None:
        request = state["request"]
        record.served.append(Served(request.index, request.arrival_s, state["first_s"], t, request.output_tokens))
        free.append(slot)


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 and p99 (linear interpolation), and the max; None of nothing."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)
    return {"p50": quantile(ordered, 0.5), "p99": quantile(ordered, 0.99), "max": ordered[-1], "n": len(ordered)}


def latency_figures(record: PassRecord) -> dict[str, Any]:
    ttft = [s.ttft_s for s in record.served]
    tpot = [s.tpot_s for s in record.served if s.tpot_s is not None]
    waits = [s.mining_wait_s for s in record.served if s.mining_wait_s > 0]
    return {
        "requests": len(record.served),
        "output_tokens": record.output_tokens,
        "prompt_tokens": record.prompt_tokens,
        "ttft_s": percentiles(ttft),
        "tpot_s": percentiles(tpot),
        "iterations": record.iterations,
        "prefills": record.prefills,
        "decode_steps": record.decode_steps,
        "max_batch": record.max_batch,
        "busy_fraction": record.busy_s / record.seconds if record.seconds > 0 else None,
        "hashes": record.hashes,
        "mining_chunks": len(record.chunk_s),
        "mining_chunk_s": percentiles(record.chunk_s),
        "mining_seconds": math.fsum(record.chunk_s),
        "requests_held_by_mining": len(waits),
        "mining_wait_s": percentiles(waits),
    }
