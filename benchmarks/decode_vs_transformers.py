"""Our greedy decode against Hugging Face ``transformers`` ``generate()``, side by side in one run.

Both get the same GPT-2 124M model: HF's randomly initialised ``GPT2LMHeadModel`` whose weights
are copied into ours, so both do the same arithmetic and their generated ids can be compared. Same
dtype, same prompts, same number of new tokens (greedy, no end-of-sequence stop); HF uses its
default dynamic KV cache (``use_cache=True``) and SDPA attention. Runs alternate (ours, HF, plain,
then plain, HF, ours, ...) so that load from anything else on the machine falls on all alike.

Timed per run, end to end as a user sees it: ours = allocate KV cache + prefill + decode,
HF = ``generate()``; and decode alone: ours directly, HF's as generate(N tokens) - generate(1 token)
in the same repeat. "ours, nn.Linear" is our decode with the CPU matmuls left to torch's default
(MKL) instead of oneDNN-prepacked weights, to show how much of the gap each part makes.

    pip install -e '.[compare]' -c constraints-cpu.txt   # transformers: benchmark extra only
    python benchmarks/decode_vs_transformers.py --batch-sizes 1,8 --prompt-tokens 128 --new-tokens 64

Measured 2026-11-21 on a 2-vCPU AMD EPYC (Zen 3, AVX2, KVM) shared with other engineers' jobs,
torch 2.13.0+cpu, transformers 5.23.0, float32, prompt 128, 64 new tokens, 7 alternating repeats;
ratios are ours/HF throughput, median [min-max] over the paired repeats:

    threads  batch  end to end          decode only         decode, ours with nn.Linear
    2        1      1.43x [1.32-1.74]   1.44x [1.32-1.77]   1.10x [1.01-1.15]
    2        8      2.03x [1.78-2.22]   2.44x [2.08-2.65]   1.23x [1.13-1.34]
    1        1      1.10x [1.00-1.15]   1.13x [1.00-1.16]   (not run)
    1        8      1.39x [1.23-1.56]   1.55x [1.40-1.87]   (not run)

At 2 threads our batch-1 decode was 30 tok/s: 494 MB of float32 matmul weights a token, ~15 GB/s.
Generated ids were identical to HF's in every run.
"""

from __future__ import annotations

import platform
import statistics
import time

import click
import torch

from bench.workloads.infer import GreedyDecoder
from kernels.transformer import SHAPES, Transformer, build_model, parse_dtype


def hf_model(dtype: torch.dtype, seed: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(attn_implementation="sdpa")  # the 124M shape: 12 x 768, vocab 50257
    return GPT2LMHeadModel(config).to(dtype).eval()


def copy_hf_weights(hf, ours: Transformer) -> None:
    """HF GPT-2 keeps Conv1D weights as (in, out); ours are nn.Linear (out, in)."""
    src = hf.transformer
    with torch.no_grad():
        ours.tok_emb.weight.copy_(src.wte.weight)
        ours.pos_emb.weight.copy_(src.wpe.weight[: ours.pos_emb.weight.shape[0]])
        for block, h in zip(ours.layers, src.h):
            block.attn_norm.weight.copy_(h.ln_1.weight)
            block.attn_norm.bias.copy_(h.ln_1.bias)
            block.attn.wqkv.weight.copy_(h.attn.c_attn.weight.T)
            block.attn.wqkv.bias.copy_(h.attn.c_attn.bias)
            block.attn.wo.weight.copy_(h.attn.c_proj.weight.T)
            block.attn.wo.bias.copy_(h.attn.c_proj.bias)
            block.mlp_norm.weight.copy_(h.ln_2.weight)
            block.mlp_norm.bias.copy_(h.ln_2.bias)
            block.mlp.w1.weight.copy_(h.mlp.c_fc.weight.T)
            block.mlp.w1.bias.copy_(h.mlp.c_fc.bias)
            block.mlp.w2.weight.copy_(h.mlp.c_proj.weight.T)
            block.mlp.w2.bias.copy_(h.mlp.c_proj.bias)
        ours.norm.weight.copy_(src.ln_f.weight)
        ours.norm.bias.copy_(src.ln_f.bias)


def run_ours(model: Transformer, prompts: torch.Tensor, new_tokens: int) -> tuple[float, float, torch.Tensor]:
    """(total s, prefill s, generated ids): the first new token comes from prefill."""
    with torch.inference_mode():
        t0 = time.perf_counter()
        decoder = GreedyDecoder(model, prompts, new_tokens - 1, prefill_chunk_tokens=8192)
        decoder.prefill()
        t1 = time.perf_counter()
        decoder.decode()
        t2 = time.perf_counter()
    return t2 - t0, t1 - t0, decoder.generated_ids()


def run_hf(hf, prompts: torch.Tensor, new_tokens: int) -> tuple[float, torch.Tensor]:
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = hf.generate(
            prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=new_tokens,
            min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=0,
        )
        t1 = time.perf_counter()
    return t1 - t0, out[:, prompts.shape[1]:]


@click.command()
@click.option("--batch-sizes", default="1,8", show_default=True, help="Comma-separated batch sizes.")
@click.option("--prompt-tokens", default=128, show_default=True)
@click.option("--new-tokens", default=64, show_default=True, help="Generated tokens per sequence.")
@click.option("--repeats", default=7, show_default=True, help="Timed runs of each, alternating.")
@click.option("--dtype", default="float32", show_default=True)
@click.option("--threads", type=int, help="torch intra-op threads (default: torch's choice).")
@click.option("--seed", default=0, show_default=True)
def main(batch_sizes: str, prompt_tokens: int, new_tokens: int, repeats: int, dtype: str, threads: int | None,
         seed: int) -> None:
    import transformers

    if threads:
        torch.set_num_threads(threads)
    torch_dtype = parse_dtype(dtype)
    cfg = SHAPES["gpt2-124m"]
    hf = hf_model(torch_dtype, seed)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), transformers {transformers.__version__}, {dtype}, "
          f"gpt2-124m random weights (HF's, copied into ours), prompt {prompt_tokens}, new tokens {new_tokens}, "
          f"{repeats} alternating runs each")
    print("# end to end: ours = cache + prefill + decode, HF = generate(); decode only: HF's is "
          "generate(new tokens) - generate(1 token) of the same repeat")
    print("| batch | ours tok/s | HF tok/s | ours/HF end to end | ours decode tok/s | HF decode tok/s "
          "| ours/HF decode | ours, nn.Linear: decode tok/s, /HF | same ids |")
    print("|---|---|---|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(seed + 1)
    for batch in (int(b) for b in batch_sizes.split(",")):
        prompts = torch.randint(0, cfg.vocab_size, (batch, prompt_tokens), generator=generator)
        # Built as the infer workload builds it on CPU: HF's weights, then packed for this batch.
        ours = build_model(cfg, "cpu", torch_dtype, seed, max_positions=prompt_tokens + new_tokens).eval()
        copy_hf_weights(hf, ours)
        plain = build_model(cfg, "cpu", torch_dtype, seed, max_positions=prompt_tokens + new_tokens).eval()
        copy_hf_weights(hf, plain)
        matmul = ours.pack_linears_for_cpu(batch)
        run_ours(ours, prompts, new_tokens)  # warm-up, not timed
        run_ours(plain, prompts, new_tokens)
        run_hf(hf, prompts, new_tokens)
        ours_s, ours_decode_s, hf_s, hf_decode_s, plain_decode_s = [], [], [], [], []
        for repeat in range(repeats):
            order = ("ours", "hf", "plain") if repeat % 2 == 0 else ("plain", "hf", "ours")
            for who in order:
                if who == "ours":
                    total, prefill, our_ids = run_ours(ours, prompts, new_tokens)
                    ours_s.append(total)
                    ours_decode_s.append(total - prefill)
                elif who == "plain":
                    total, prefill, _ = run_ours(plain, prompts, new_tokens)
                    plain_decode_s.append(total - prefill)
                else:
                    first_token_s, _ = run_hf(hf, prompts, 1)
                    total, hf_ids = run_hf(hf, prompts, new_tokens)
                    hf_s.append(total)
                    hf_decode_s.append(total - first_token_s)
        decoded = batch * (new_tokens - 1)  # tokens after the one prefill gives
        same = float((our_ids == hf_ids).float().mean())
        print(f"| {batch} | {batch * new_tokens / statistics.median(ours_s):.1f} "
              f"| {batch * new_tokens / statistics.median(hf_s):.1f} | {_ratio(hf_s, ours_s)} "
              f"| {decoded / statistics.median(ours_decode_s):.1f} | {decoded / statistics.median(hf_decode_s):.1f} "
              f"| {_ratio(hf_decode_s, ours_decode_s)} "
              f"| {decoded / statistics.median(plain_decode_s):.1f}, {_ratio(hf_decode_s, plain_decode_s)} "
              f"| {same:.0%} |")
        print(f"#   batch {batch}: ours uses {matmul}")


def _ratio(slow: list[float], fast: list[float]) -> str:
    """Throughput ratio ours/HF = HF time / our time: median [min-max] over the paired repeats."""
    ratios = [s / f for s, f in zip(slow, fast)]
    return f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"


if __name__ == "__main__":
    main()
