#!/usr/bin/env python3
"""Weight streaming from host memory on this GPU: ground truth for llmsim's offload executor.

FlexGen-style execution with every weight in pinned host memory (policy
w=0/100/0, cache and activations on the GPU): each forward step streams the
units of a Llama-3-8B-shaped model — the embedding table, then per layer the
attention block (norm, q/k/v/o) and the MLP block (norm, gate/up/down), then
the final norm and lm_head — from host to GPU and computes them.

  overlap=0  load unit u, wait, compute unit u (FlexGen --overlap False)
  overlap=1  load unit u+1 on a copy stream while unit u computes, double
             buffered, then wait for both (FlexGen's generation_loop_overlap
             with its sync() after every unit)

With --compress the matrices are stored and moved in FlexGen's group-wise
4-bit format and decompressed on the GPU at every use (fp16 model).

Steps measured: prefill of B sequences × 512 prompt tokens (B = 1, 8, 32, 64)
and decode of B sequences holding 512 cached tokens (B = 1, 64). Also
measured: host↔device copy rates (pinned and pageable, 4 MiB-1 GiB), which
describe the link (llmsim's h200-node.toml).

Writes --out DIR/offload_link.csv, offload_steps.csv, provenance_offload.txt.
"""

import argparse
import os
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

from flexgen_comp import compress, decompress
from gpulib import write_csv, write_provenance

DEV = "cuda"
DT = torch.bfloat16  # fp16 with --compress (FlexGen compresses fp16)
# Llama-3-8B
L, H, HQ, HKV, D, I, V = 32, 4096, 32, 8, 128, 14336, 128256


def timed(fn, reps=5, warmup=2):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def link_rows():
    rows = []
    for mib in [4, 64, 256, 1024]:
        n = mib * 2**20
        g = torch.empty(n, dtype=torch.uint8, device=DEV)
        for pinned in [True, False]:
            h = torch.empty(n, dtype=torch.uint8, pin_memory=pinned)
            h.fill_(1)
            h2d = timed(lambda: g.copy_(h, non_blocking=pinned))
            d2h = timed(lambda: h.copy_(g, non_blocking=pinned))
            rows.append(dict(bytes=n, pinned=int(pinned), h2d_seconds=h2d, d2h_seconds=d2h,
                             h2d_gbps=n / h2d / 1e9, d2h_gbps=n / d2h / 1e9))
            print(rows[-1], flush=True)
            del h
        del g
    return rows


class Packed:
    """A FlexGen-compressed matrix: 4-bit codes and (scale, min) per 64 rows' group."""

    def __init__(self, packed, scale, shape):
        self.packed, self.scale, self.shape = packed, scale, shape

    def empty_on(self, dev):
        return Packed(torch.empty_like(self.packed, device=dev), torch.empty_like(self.scale, device=dev), self.shape)

    def nbytes(self):
        return self.packed.numel() + self.scale.numel() * 2


def copy_into(dst, src):
    if isinstance(src, Packed):
        dst.packed.copy_(src.packed, non_blocking=True)
        dst.scale.copy_(src.scale, non_blocking=True)
    else:
        dst.copy_(src, non_blocking=True)


def mat(w):
    """The fp16/bf16 matrix of a weight (FlexGen decompresses on every use)."""
    if isinstance(w, Packed):
        return decompress(w.packed, w.scale, w.shape, 64, 0)
    return w


class Model:
    """Units with their host (pinned) weights and two GPU buffers per kind."""

    def __init__(self, compressed=False):
        def host(*shape):
            t = torch.randn(*shape, dtype=DT, device=DEV) * 0.02
            if compressed and len(shape) == 2:  # FlexGen compresses matrices, not 1-D tensors
                p, sc = compress(t, 64, 0)
                return Packed(p.cpu().pin_memory(), sc.cpu().pin_memory(), t.shape)
            return t.cpu().pin_memory()
        self.embed = [host(V, H)]
        self.attn = [[host(H), host(H + 2 * HKV * D, H), host(H, H)] for _ in range(L)]
        self.mlp = [[host(H), host(2 * I, H), host(H, I)] for _ in range(L)]
        self.head = [host(H), host(V, H)]
        self.units = [("embed", self.embed)] + [u for l in range(L) for u in (("attn", self.attn[l]), ("mlp", self.mlp[l]))] + [("head", self.head)]
        self.buf = {}
        for kind, ws in [("embed", self.embed), ("attn", self.attn[0]), ("mlp", self.mlp[0]), ("head", self.head)]:
            self.buf[kind] = [[w.empty_on(DEV) if isinstance(w, Packed) else torch.empty_like(w, device=DEV) for w in ws] for _ in range(2)]

    def bytes(self):
        """Bytes moved per step: what the host holds."""
        return sum(w.nbytes() if isinstance(w, Packed) else w.numel() * 2 for _, ws in self.units for w in ws)


def rms(x, w):
    return F.rms_norm(x, (x.shape[-1],), w)


def compute(kind, ws, x, state, layer):
    """One unit on the GPU. x: hidden (B, T, H) or token ids."""
    if kind == "embed":
        return F.embedding(x, mat(ws[0]))
    if kind == "head":
        return F.linear(rms(x[:, -1:], ws[0]), mat(ws[1]))
    B, T, _ = x.shape
    if kind == "attn":
        h = F.linear(rms(x, ws[0]), mat(ws[1]))
        q, k, v = h.split([H, HKV * D, HKV * D], dim=-1)
        q = q.view(B, T, HQ, D).transpose(1, 2)
        k = k.view(B, T, HKV, D).transpose(1, 2)
        v = v.view(B, T, HKV, D).transpose(1, 2)
        kc, vc, past = state[layer]
        kc[:, :, past:past + T] = k
        vc[:, :, past:past + T] = v
        kk, vv = kc[:, :, :past + T], vc[:, :, :past + T]
        o = F.scaled_dot_product_attention(q, kk, vv, is_causal=(past == 0), enable_gqa=True)
        return x + F.linear(o.transpose(1, 2).reshape(B, T, H), mat(ws[2]))
    g, u = F.linear(rms(x, ws[0]), mat(ws[1])).chunk(2, dim=-1)
    return x + F.linear(F.silu(g) * u, mat(ws[2]))


def step(m, x, state, overlap, copy_stream):
    """One forward step streaming every unit's weights from the host."""
    n = len(m.units)
    ready = [None] * n
    slot = {}
    last_use = {}  # (kind, buffer) -> event after the compute that last read it
    uses = {}

    def load(i):
        kind, ws = m.units[i]
        k = uses.get(kind, 0) % 2
        uses[kind] = uses.get(kind, 0) + 1
        dst = m.buf[kind][k]
        slot[i] = (dst, (kind, k))
        if overlap:
            with torch.cuda.stream(copy_stream):
                if (kind, k) in last_use:
                    copy_stream.wait_event(last_use[(kind, k)])
                for d, w in zip(dst, ws):
                    copy_into(d, w)
                e = torch.cuda.Event()
                e.record(copy_stream)
                ready[i] = e
        else:
            for d, w in zip(dst, ws):
                copy_into(d, w)
            torch.cuda.current_stream().synchronize()

    load(0)
    layer = 0
    for i in range(n):
        if overlap and i + 1 < n:
            load(i + 1)
        if overlap:
            torch.cuda.current_stream().wait_event(ready[i])
        elif i > 0:
            load(i)
        kind, _ = m.units[i]
        dst, key = slot[i]
        x = compute(kind, dst, x, state, layer)
        if kind == "mlp":
            layer += 1
        if overlap:
            e = torch.cuda.Event()
            e.record()
            last_use[key] = e
            # FlexGen's sync() after every (unit, batch): the next unit starts
            # when both this compute and the next unit's load are done.
            torch.cuda.synchronize()
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--compress", action="store_true",
                    help="FlexGen's 4-bit weights (cw): matrices stored and moved compressed, decompressed on the GPU at every use; fp16; writes offload_steps_cw.csv, skips the link")
    args = ap.parse_args()
    global DT
    if args.compress:
        DT = torch.float16
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    t0 = time.time()
    if not args.compress:
        write_csv(os.path.join(args.out, "offload_link.csv"), link_rows())
    m = Model(compressed=args.compress)
    print("model bytes", m.bytes(), "setup", time.time() - t0, flush=True)
    copy_stream = torch.cuda.Stream()
    rows = []
    cases = [("prefill", b, 512) for b in ([1, 8] if args.quick else [1, 8, 32, 64])] + \
            [("decode", b, 512) for b in ([1] if args.quick else [1, 64])]
    for phase, B, ctx in cases:
        cap = ctx + 1
        state = [[torch.zeros(B, HKV, cap, D, dtype=DT, device=DEV), torch.zeros(B, HKV, cap, D, dtype=DT, device=DEV), 0] for _ in range(L)]
        if phase == "prefill":
            x = torch.randint(0, V, (B, ctx), device=DEV)
        else:
            for s in state:
                s[2] = ctx
            x = torch.randint(0, V, (B, 1), device=DEV)
        for overlap in [0, 1]:
            sec = timed(lambda: step(m, x, state, overlap, copy_stream), reps=3 if phase == "prefill" and B >= 32 else 5)
            rows.append(dict(phase=phase, batch=B, prompt=ctx if phase == "prefill" else 0,
                             context=ctx if phase == "decode" else 0, overlap=overlap, seconds=sec,
                             weight_bytes=m.bytes()))
            print(rows[-1], flush=True)
        del state
        torch.cuda.empty_cache()
    write_csv(os.path.join(args.out, "offload_steps_cw.csv" if args.compress else "offload_steps.csv"), rows)
    pcie = subprocess.run(["nvidia-smi", "--query-gpu=pcie.link.gen.current,pcie.link.width.current", "--format=csv,noheader"],
                          capture_output=True, text=True).stdout.strip()
    cpu = subprocess.run(["bash", "-c", "lscpu | grep 'Model name' | head -1; nproc; free -g | head -2 | tail -1"], capture_output=True, text=True).stdout.strip()
    write_provenance(os.path.join(args.out, "provenance_offload_cw.txt" if args.compress else "provenance_offload.txt"),
                     "wall clock around each step with cuda synchronize, median of 3-5 after 2 warm-up; Llama-3-8B shape, bf16 random weights in pinned host memory; copies on a second stream (overlap=1) or synchronous (overlap=0)",
                     extra=[f"pcie gen, width: {pcie}", f"host: {cpu}"])


if __name__ == "__main__":
    main()
