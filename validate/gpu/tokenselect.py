#!/usr/bin/env python3
"""Time one prefill chunk's attention with and without TokenSelect-style selection.

TokenSelect (Wu et al., EMNLP 2025, Fig. 7) times the attention of a single
512-token prefill chunk of Qwen2-7B-Instruct at KV lengths 128K-1M: full
attention (FlashInfer) against TokenSelect, which scores every cached key
with the chunk's mean query per head, soft-votes across the heads of a KV
group, keeps the top k tokens (plus initial and local tokens) and attends
to those alone. This script runs both for one layer with Qwen2-7B's shape
(28 query heads, 4 KV heads, head_dim 128, bf16) on this GPU:

  full    SDPA (flash) of the 512 queries over all cached keys plus the
          chunk (causal inside the chunk)
  select  scores = K · mean(q) per query head (a batched GEMV over K),
          softmax per head, sum over each KV group's heads, top-k, gather
          the selected K and V, SDPA of the 512 queries over selected +
          initial + local + the chunk

and writes --out DIR/tokenselect.csv (one row per context length, the
median seconds of each part) and provenance_tokenselect.txt.
"""

import os

import torch

from gpulib import out_dir_args, timed_events, write_csv, write_provenance
import torch.nn.functional as F

DEV = "cuda"
HQ, HKV, D = 28, 4, 128
CHUNK, TOPK, INITIAL, LOCAL = 512, 2048, 128, 512


def timed(fn, reps=10, warmup=3):
    return timed_events(fn, reps, warmup)


def run(ctx):
    g = HQ // HKV
    k = torch.randn(1, HKV, ctx + CHUNK, D, dtype=torch.bfloat16, device=DEV)
    v = torch.randn_like(k)
    q = torch.randn(1, HQ, CHUNK, D, dtype=torch.bfloat16, device=DEV)
    # repeat_interleave materialises the GQA expansion; time it apart so it
    # can be subtracted (FlashInfer reads the shared KV heads directly).
    kx = k[:, :, :ctx].repeat_interleave(g, dim=1)
    vx = v[:, :, :ctx].repeat_interleave(g, dim=1)

    def full_attn():
        return torch.ops.aten._scaled_dot_product_flash_attention(q, kx, vx)[0]

    def chunk_attn():
        return F.scaled_dot_product_attention(q, k[:, :, ctx:].repeat_interleave(g, dim=1), v[:, :, ctx:].repeat_interleave(g, dim=1), is_causal=True)

    kpast = k[0, :, :ctx]  # (HKV, ctx, D)

    def select():
        qm = q[0].mean(dim=1)  # (HQ, D)
        qg = qm.view(HKV, g, D).transpose(1, 2)  # (HKV, D, g)
        s = torch.bmm(kpast, qg).float()  # (HKV, ctx, g): reads K once
        s = torch.softmax(s, dim=1).sum(dim=2)  # soft vote over the group's heads
        idx = torch.topk(s[:, INITIAL:ctx - LOCAL], TOPK, dim=1).indices + INITIAL
        idx = torch.cat([torch.arange(INITIAL, device=DEV).expand(HKV, -1), idx,
                         torch.arange(ctx - LOCAL, ctx, device=DEV).expand(HKV, -1)], dim=1)
        ks = torch.gather(kpast, 1, idx.unsqueeze(-1).expand(-1, -1, D))
        vs = torch.gather(v[0, :, :ctx], 1, idx.unsqueeze(-1).expand(-1, -1, D))
        kk = torch.cat([ks, k[0, :, ctx:]], dim=1).repeat_interleave(g, dim=0).unsqueeze(0)
        vv = torch.cat([vs, v[0, :, ctx:]], dim=1).repeat_interleave(g, dim=0).unsqueeze(0)
        n = kk.shape[2]
        m = torch.ones(CHUNK, n, dtype=torch.bool, device=DEV)
        m[:, n - CHUNK:] = torch.tril(torch.ones(CHUNK, CHUNK, dtype=torch.bool, device=DEV))
        return F.scaled_dot_product_attention(q, kk, vv, attn_mask=m)

    def scan_only():
        qm = q[0].mean(dim=1)
        qg = qm.view(HKV, g, D).transpose(1, 2)
        return torch.bmm(kpast, qg)

    row = dict(context=ctx, chunk=CHUNK, topk=TOPK, initial=INITIAL, local=LOCAL,
               full_past_seconds=timed(full_attn), full_chunk_seconds=timed(chunk_attn),
               select_seconds=timed(select), scan_seconds=timed(scan_only),
               k_bytes=kpast.numel() * 2)
    row["full_seconds"] = row["full_past_seconds"] + row["full_chunk_seconds"]
    row["speedup"] = row["full_seconds"] / row["select_seconds"]
    del k, v, kx, vx
    torch.cuda.empty_cache()
    return row


def main():
    args = out_dir_args()
    rows = []
    for ctx in [32768, 131072, 524288, 1048576]:
        rows.append(run(ctx))
        print(rows[-1], flush=True)
    write_csv(os.path.join(args.out, "tokenselect.csv"), rows)
    write_provenance(os.path.join(args.out, "provenance_tokenselect.txt"),
                     "CUDA events, median of 10 after 3 warm-up; one layer of Qwen2-7B's attention shape, bf16, random inputs")


if __name__ == "__main__":
    main()
