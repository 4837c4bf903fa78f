#!/usr/bin/env python3
"""GPU ground-truth measurements for llmsim.

Writes (into --out DIR):
  kernels.csv      single-op timings (GEMM, copy/read, SDPA prefill/decode, elementwise)
  steps.csv        whole Llama-style decoder steps (prefill eager; decode eager + CUDA graph)
  ops.csv          per-op breakdown of eager steps (CUDA events, device synchronised around each op)
  ops_kernels.csv  same breakdown from the PyTorch profiler: sum of GPU kernel durations per op
  provenance.txt   GPU, driver, software versions, method
  log.txt          progress log

Usage:
  python3 validate/gpu/measure.py --out DIR [--quick] [--budget-s 480] [--sections kernels,steps]

All timings: CUDA events, median over --reps timed repetitions after --warmup
warm-up repetitions.  Every measurement is wrapped in try/except; rows are
written and flushed as they are produced, so a run cut short keeps what it has.
"""

import argparse
import contextlib
import csv
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import warnings

import torch
import torch.nn.functional as F

ARGS = None
T0 = time.time()
DEADLINE = None
LOGF = None
L2_BYTES = 50 * 1024 * 1024
DEV = "cuda"
BF16 = torch.bfloat16
GiB = 1024 ** 3
MiB = 1024 ** 2


# --------------------------------------------------------------------------- utils

def log(*a):
    msg = "[%7.1fs] " % (time.time() - T0) + " ".join(str(x) for x in a)
    print(msg, flush=True)
    if LOGF is not None:
        LOGF.write(msg + "\n")
        LOGF.flush()


def over_budget():
    return DEADLINE is not None and time.time() > DEADLINE


class CsvOut:
    def __init__(self, path, cols):
        self.path = path
        self.cols = cols
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self.f = open(path, "a", newline="")
        self.w = csv.writer(self.f)
        if new:
            self.w.writerow(cols)
            self.f.flush()
        self.n = 0

    def row(self, **kw):
        unknown = set(kw) - set(self.cols)
        if unknown:
            raise ValueError("unknown columns %s" % unknown)
        vals = []
        for c in self.cols:
            v = kw.get(c, "")
            if isinstance(v, float):
                v = "%.9g" % v
            vals.append(v)
        self.w.writerow(vals)
        self.f.flush()
        self.n += 1

    def close(self):
        self.f.close()


def ev():
    return torch.cuda.Event(enable_timing=True)


def median(xs):
    return statistics.median(xs)


def free_mem():
    try:
        f, t = torch.cuda.mem_get_info()
        return f
    except Exception:
        return 0


def cleanup():
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def time_fns(fns, reps=None, warm=None, target_s=1e-3, max_inner=2000, use_graph=True):
    """Time a list of equivalent callables (one per rotating buffer set).

    Returns (seconds_per_call_median, mode, inner).  One timed repetition runs
    `inner` calls (cycling through fns) between two CUDA events, captured in a
    CUDA graph when possible so that launch gaps do not dominate small kernels.
    """
    reps = reps or ARGS.kernel_reps
    warm = warm or ARGS.warmup
    nf = len(fns)
    for _ in range(warm):
        for f in fns:
            f()
    torch.cuda.synchronize()
    s, e = ev(), ev()
    s.record()
    for f in fns:
        f()
    e.record()
    e.synchronize()
    t1 = s.elapsed_time(e) / 1e3 / nf
    rounds = max(1, int(math.ceil(target_s / max(t1 * nf, 1e-9))))
    inner = nf * rounds
    if inner > max_inner:
        inner = max(nf, (max_inner // nf) * nf)
    mode = "eager"
    g = None
    runner = None
    if use_graph:
        try:
            st = torch.cuda.Stream()
            st.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(st):
                for f in fns:
                    f()
            torch.cuda.current_stream().wait_stream(st)
            torch.cuda.synchronize()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(inner):
                    fns[i % nf]()
            runner = g.replay
            mode = "graph"
        except Exception as ex:  # fall back to an eager loop
            log("  graph capture failed (%s); eager loop" % str(ex).splitlines()[0][:120])
            g = None
            runner = None
            try:
                torch.cuda.synchronize()
            except Exception:
                pass
    if runner is None:
        def runner():
            for i in range(inner):
                fns[i % nf]()
    for _ in range(2):
        runner()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s.record()
        runner()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / 1e3 / inner)
    del g
    return median(times), mode, inner


def n_rot(set_bytes, cap=64):
    """Number of rotating buffer sets so the footprint exceeds ~3x L2."""
    return int(max(1, min(cap, math.ceil(3 * L2_BYTES / max(set_bytes, 1)))))


def residency(foot_bytes):
    return "hbm" if foot_bytes >= 2 * L2_BYTES else "l2"


def randn(*shape, dtype=BF16, std=1.0):
    t = torch.randn(*shape, device=DEV, dtype=dtype if dtype in (torch.float32, BF16, torch.float16) else torch.float32)
    if std != 1.0:
        t.mul_(std)
    if t.dtype != dtype:
        t = t.to(dtype)
    return t


# --------------------------------------------------------------------------- kernels

KCOLS = ["op", "dtype", "m", "n", "k", "batch", "q_len", "kv_len", "heads", "kv_heads",
         "head_dim", "bytes", "flops", "seconds", "backend"]

GEMM_M = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
GEMM_NK = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336), (12288, 4096), (4096, 11008),
           (22016, 4096), (7168, 5120), (5120, 5120), (27648, 5120), (5120, 13824), (10240, 8192),
           (8192, 8192), (57344, 8192), (8192, 28672), (128256, 4096), (32000, 4096)]
FP8_NK = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336), (8192, 8192), (57344, 8192)]
HEADCFG = [(32, 8, 128), (32, 32, 128), (40, 8, 128)]
PREFILL_BS = [(1, 512), (1, 2048), (1, 8192), (4, 2048), (8, 1024), (16, 512), (1, 32768)]
DECODE_B = [1, 8, 32, 64, 128, 256]
DECODE_KV = [512, 2048, 8192, 32768]
EW_TOKENS = [1, 32, 256, 2048, 16384]


def bench_gemm(out, quick):
    ms = [1, 16, 256, 4096] if quick else GEMM_M
    nks = GEMM_NK[:2] + [GEMM_NK[15]] if quick else GEMM_NK
    for (N, K) in nks:
        for M in ms:
            if over_budget():
                log("budget exhausted in gemm")
                return
            try:
                setb = 2 * (M * K + N * K)
                nr = n_rot(setb)
                sets = [(randn(M, K), randn(N, K, std=0.02)) for _ in range(nr)]
                fns = [(lambda x=x, w=w: F.linear(x, w)) for (x, w) in sets]
                t, mode, inner = time_fns(fns)
                out.row(op="gemm", dtype="bf16", m=M, n=N, k=K, batch=0, q_len=0, kv_len=0, heads=0,
                        kv_heads=0, head_dim=0, bytes=2 * (M * K + N * K + M * N), flops=2 * M * N * K,
                        seconds=t, backend="cublas;%s;%s" % (mode, residency(nr * setb)))
                if M in (1, 4096, 16384) or quick:
                    log("gemm bf16 M=%d N=%d K=%d %.2f us %.1f TFLOP/s %.0f GB/s" % (
                        M, N, K, t * 1e6, 2 * M * N * K / t / 1e12, 2 * (M * K + N * K + M * N) / t / 1e9))
                del sets, fns
            except Exception as ex:
                log("FAIL gemm M=%d N=%d K=%d: %s" % (M, N, K, str(ex).splitlines()[0][:200]))
            cleanup()


def bench_gemm_fp8(out, quick):
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        log("fp8: torch._scaled_mm unavailable")
        return
    ms = [16, 4096] if quick else GEMM_M
    nks = FP8_NK[:1] if quick else FP8_NK
    fails = 0
    for (N, K) in nks:
        for M in ms:
            if over_budget():
                log("budget exhausted in fp8 gemm")
                return
            try:
                setb = M * K + N * K
                nr = n_rot(setb)
                sa = torch.tensor(1.0, device=DEV, dtype=torch.float32)
                sb = torch.tensor(1.0, device=DEV, dtype=torch.float32)
                sets = [(randn(M, K).to(torch.float8_e4m3fn), randn(N, K).to(torch.float8_e4m3fn))
                        for _ in range(nr)]
                fns = [(lambda a=a, w=w: torch._scaled_mm(a, w.t(), scale_a=sa, scale_b=sb,
                                                          out_dtype=BF16)) for (a, w) in sets]
                t, mode, inner = time_fns(fns)
                out.row(op="gemm", dtype="fp8_e4m3", m=M, n=N, k=K, batch=0, q_len=0, kv_len=0,
                        heads=0, kv_heads=0, head_dim=0, bytes=M * K + N * K + 2 * M * N,
                        flops=2 * M * N * K, seconds=t,
                        backend="scaled_mm;%s;%s" % (mode, residency(nr * setb)))
                if M in (16, 4096, 16384):
                    log("gemm fp8 M=%d N=%d K=%d %.2f us %.1f TFLOP/s" % (M, N, K, t * 1e6, 2 * M * N * K / t / 1e12))
                del sets, fns
            except Exception as ex:
                fails += 1
                if fails <= 5:
                    log("FAIL fp8 gemm M=%d N=%d K=%d: %s" % (M, N, K, str(ex).splitlines()[0][:200]))
            cleanup()


def bench_mem(out, quick):
    sizes = [64 * 1024 * 4 ** i for i in range(9)]  # 64 KiB .. 4 GiB
    if quick:
        sizes = sizes[::3]
    for op in ("copy", "read"):
        for sz in sizes:
            if over_budget():
                log("budget exhausted in mem")
                return
            try:
                n = sz // 2
                per = sz * (2 if op == "copy" else 1)
                nr = n_rot(per, cap=1024)
                if op == "copy":
                    bufs = [(randn(n), torch.empty(n, device=DEV, dtype=BF16)) for _ in range(nr)]
                    fns = [(lambda s=s, d=d: d.copy_(s)) for (s, d) in bufs]
                    moved = 2 * sz
                    be = "copy_"
                else:
                    bufs = [randn(n) for _ in range(nr)]
                    fns = [(lambda x=x: x.sum()) for x in bufs]
                    moved = sz
                    be = "sum"
                t, mode, inner = time_fns(fns, max_inner=4096)
                out.row(op=op, dtype="bf16", m=n, n=0, k=0, batch=0, q_len=0, kv_len=0, heads=0,
                        kv_heads=0, head_dim=0, bytes=moved, flops=0 if op == "copy" else n,
                        seconds=t, backend="%s;%s;%s" % (be, mode, residency(nr * per)))
                log("%s %9d KiB: %.2f us %.0f GB/s (rot=%d)" % (op, sz // 1024, t * 1e6, moved / t / 1e9, nr))
                del bufs, fns
            except Exception as ex:
                log("FAIL %s %d: %s" % (op, sz, str(ex).splitlines()[0][:200]))
            cleanup()


def STEP_GRID(text):
    """"B:N,B:N" -> [(B, N), ...] (empty text: none)."""
    return [tuple(int(y) for y in x.split(":")) for x in text.split(",") if x]


def _sdpa_backends():
    try:
        from torch.nn.attention import sdpa_kernel, SDPBackend
    except Exception:
        return None, []
    bl = [("flash", SDPBackend.FLASH_ATTENTION)]
    if hasattr(SDPBackend, "CUDNN_ATTENTION"):
        bl.append(("cudnn", SDPBackend.CUDNN_ATTENTION))
    bl.append(("efficient", SDPBackend.EFFICIENT_ATTENTION))
    return sdpa_kernel, bl


def _sdpa_default_choice(q, k, v, causal, gqa):
    try:
        kw = {"is_causal": causal}
        if gqa:
            kw["enable_gqa"] = True
        c = torch._fused_sdp_choice(q, k, v, **kw)
        try:
            from torch.nn.attention import SDPBackend
            return SDPBackend(c).name
        except Exception:
            return str(c)
    except Exception as ex:
        return "unknown"


SDPA_DEFAULTS = {}


def _attn_measure(out, kind, B, Sq, Skv, h, kvh, d, sets_fn, foot, quick):
    """sets_fn(expand) -> list of (q,k,v).  Measures each SDPA backend."""
    sdpa_kernel, bl = _sdpa_backends()
    causal = kind == "attn_prefill"
    gqa = h != kvh
    if causal:
        flops = 2 * B * h * Sq * Skv * d  # causal: half of 4*B*h*S^2*d
    else:
        flops = 4 * B * h * Sq * Skv * d
    bytes_ = 2 * (2 * B * h * Sq * d + 2 * B * kvh * Skv * d)
    sets = sets_fn(False)
    try:
        q, k, v = sets[0]
        SDPA_DEFAULTS["%s b=%d sq=%d skv=%d h=%d kvh=%d" % (kind, B, Sq, Skv, h, kvh)] = \
            _sdpa_default_choice(q, k, v, causal, gqa)
    except Exception:
        pass
    expanded = None
    for name, be in bl:
        if over_budget():
            return
        ok = False
        for expand in ((False, True) if gqa else (False,)):
            try:
                if expand:
                    kv_exp = 2 * B * h * Skv * d * 2
                    if kv_exp > 16 * GiB or kv_exp * 2 > free_mem() - 2 * GiB:
                        log("  skip %s expandkv (too large)" % name)
                        break
                    if expanded is None:
                        expanded = [(q_, k_.repeat_interleave(h // kvh, dim=1).contiguous(),
                                     v_.repeat_interleave(h // kvh, dim=1).contiguous()) for (q_, k_, v_) in sets]
                    use = expanded
                    kw = {"is_causal": causal}
                else:
                    use = sets
                    kw = {"is_causal": causal}
                    if gqa:
                        kw["enable_gqa"] = True

                def mk(q, k, v, kw=kw, be=be):
                    def f():
                        with sdpa_kernel(be):
                            return F.scaled_dot_product_attention(q, k, v, **kw)
                    return f
                fns = [mk(*s) for s in use]
                fns[0]()
                torch.cuda.synchronize()
                t, mode, inner = time_fns(fns)
                tag = name + ("+expandkv" if expand else "")
                out.row(op=kind, dtype="bf16", m=0, n=0, k=0, batch=B, q_len=Sq, kv_len=Skv, heads=h,
                        kv_heads=kvh, head_dim=d, bytes=bytes_, flops=flops, seconds=t,
                        backend="%s;%s;%s" % (tag, mode, residency(foot)))
                log("%s B=%d Sq=%d Skv=%d h=%d kvh=%d %-16s %.2f us  %.1f TFLOP/s %.0f GB/s" % (
                    kind, B, Sq, Skv, h, kvh, tag, t * 1e6, flops / t / 1e12, bytes_ / t / 1e9))
                ok = True
                break
            except Exception as ex:
                log("  %s %s%s unavailable: %s" % (kind, name, "+expandkv" if expand else "",
                                                  str(ex).splitlines()[0][:160]))
                try:
                    torch.cuda.synchronize()
                except Exception:
                    pass
        if quick and ok:
            pass
    del sets, expanded
    cleanup()


def bench_attn(out, quick):
    hcs = HEADCFG[:1] if quick else HEADCFG
    pbs = [(1, 512), (4, 2048)] if quick else PREFILL_BS
    for (h, kvh, d) in hcs:
        for (B, S) in pbs:
            if over_budget():
                log("budget exhausted in attn_prefill")
                return
            try:
                per = 2 * (B * h * S * d + 2 * B * kvh * S * d)
                nr = n_rot(per, cap=16)

                def sets_fn(_e, B=B, S=S, nr=nr, h=h, kvh=kvh, d=d):
                    return [(randn(B, h, S, d), randn(B, kvh, S, d), randn(B, kvh, S, d)) for _ in range(nr)]
                _attn_measure(out, "attn_prefill", B, S, S, h, kvh, d, sets_fn, nr * per, quick)
            except Exception as ex:
                log("FAIL attn_prefill %s: %s" % ((B, S, h, kvh), str(ex).splitlines()[0][:200]))
            cleanup()
    bs = [1, 64] if quick else DECODE_B
    kvs = [2048] if quick else DECODE_KV
    for (h, kvh, d) in hcs:
        for B in bs:
            for L in kvs:
                if over_budget():
                    log("budget exhausted in attn_decode")
                    return
                kvb = 2 * B * kvh * L * d * 2
                if kvb > 16 * GiB:
                    continue
                try:
                    nr = n_rot(kvb, cap=32)

                    def sets_fn(_e, B=B, L=L, nr=nr, h=h, kvh=kvh, d=d):
                        return [(randn(B, h, 1, d), randn(B, kvh, L, d), randn(B, kvh, L, d)) for _ in range(nr)]
                    _attn_measure(out, "attn_decode", B, 1, L, h, kvh, d, sets_fn, nr * kvb, quick)
                except Exception as ex:
                    log("FAIL attn_decode %s: %s" % ((B, L, h, kvh), str(ex).splitlines()[0][:200]))
                cleanup()


# HF-transformers-style eager elementwise ops

def hf_rmsnorm(x, w, eps=1e-5):
    dt = x.dtype
    x = x.to(torch.float32)
    var = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(var + eps)
    return w * x.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def hf_rope(q, k, cos, sin):
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def bench_elementwise(out, quick):
    toks = [1, 256, 16384] if quick else EW_TOKENS
    H = 4096
    for op in ("rmsnorm", "silu_mul", "rope", "add"):
        hs = [H, 14336] if op == "silu_mul" else [H]
        for hid in hs:
            for T in toks:
                if over_budget():
                    log("budget exhausted in elementwise")
                    return
                try:
                    if op == "rmsnorm":
                        per = 2 * T * hid * 2
                        nr = n_rot(per, cap=256)
                        w = randn(hid)
                        xs = [randn(T, hid) for _ in range(nr)]
                        fns = [(lambda x=x: hf_rmsnorm(x, w)) for x in xs]
                        byt, fl, extra = per + 2 * hid, 4 * T * hid, dict(m=T, n=hid)
                    elif op == "silu_mul":
                        per = 3 * T * hid * 2
                        nr = n_rot(per, cap=256)
                        xs = [(randn(T, hid), randn(T, hid)) for _ in range(nr)]
                        fns = [(lambda g=g, u=u: F.silu(g) * u) for (g, u) in xs]
                        byt, fl, extra = per, 6 * T * hid, dict(m=T, n=hid)
                    elif op == "rope":
                        hh, kvh, d = 32, 8, 128
                        per = 2 * (T * (hh + kvh) * d * 2)
                        nr = n_rot(per, cap=256)
                        cos = randn(T, d)[None, None]
                        sin = randn(T, d)[None, None]
                        xs = [(randn(1, hh, T, d), randn(1, kvh, T, d)) for _ in range(nr)]
                        fns = [(lambda q=q, k=k: hf_rope(q, k, cos, sin)) for (q, k) in xs]
                        byt, fl = per + 2 * T * d * 2, 3 * T * (hh + kvh) * d
                        extra = dict(m=T, n=hh * d, heads=hh, kv_heads=kvh, head_dim=d)
                    else:
                        per = 3 * T * hid * 2
                        nr = n_rot(per, cap=256)
                        xs = [(randn(T, hid), randn(T, hid)) for _ in range(nr)]
                        fns = [(lambda a=a, b=b: a + b) for (a, b) in xs]
                        byt, fl, extra = per, T * hid, dict(m=T, n=hid)
                    t, mode, inner = time_fns(fns, max_inner=4096)
                    row = dict(op=op, dtype="bf16", m=0, n=0, k=0, batch=0, q_len=0, kv_len=0, heads=0,
                               kv_heads=0, head_dim=0, bytes=byt, flops=fl, seconds=t,
                               backend="eager-torch;%s;%s" % (mode, residency(nr * per)))
                    row.update(extra)
                    out.row(**row)
                    log("%s T=%d hid=%d %.2f us %.0f GB/s" % (op, T, hid, t * 1e6, byt / t / 1e9))
                    del xs, fns
                except Exception as ex:
                    log("FAIL %s T=%d: %s" % (op, T, str(ex).splitlines()[0][:200]))
                cleanup()


# --------------------------------------------------------------------------- decoder model

MODELS = {
    "llama3-8b": dict(L=32, H=4096, h=32, kvh=8, d=128, ffn=14336, V=128256, bias=False, theta=500000.0),
    "llama2-7b": dict(L=32, H=4096, h=32, kvh=32, d=128, ffn=11008, V=32000, bias=False, theta=10000.0),
    "qwen2.5-14b": dict(L=48, H=5120, h=40, kvh=8, d=128, ffn=13824, V=152064, bias=True, theta=1000000.0),
}

OPNAMES = ["embed", "attn_norm", "qkv", "rope", "attn", "o_proj", "residual", "mlp_norm", "gate_up",
           "act", "down", "final_norm", "lm_head", "sample"]

_NULL = contextlib.nullcontext()


def _noprof(name):
    return _NULL


class Decoder:
    def __init__(self, cfg, n_layers=None, max_pos=40000):
        self.c = cfg
        L = n_layers or cfg["L"]
        H, h, kvh, d, ffn, V = cfg["H"], cfg["h"], cfg["kvh"], cfg["d"], cfg["ffn"], cfg["V"]
        self.L, self.H, self.h, self.kvh, self.d, self.ffn, self.V = L, H, h, kvh, d, ffn, V
        s = 0.02
        self.emb = randn(V, H, std=s)
        self.layers = []
        for _ in range(L):
            self.layers.append(dict(
                ln1=1.0 + randn(H, std=0.01),
                wqkv=randn((h + 2 * kvh) * d, H, std=s),
                bqkv=randn((h + 2 * kvh) * d, std=s) if cfg["bias"] else None,
                wo=randn(H, h * d, std=s),
                ln2=1.0 + randn(H, std=0.01),
                wgu=randn(2 * ffn, H, std=s),
                wd=randn(H, ffn, std=s),
            ))
        self.norm = 1.0 + randn(H, std=0.01)
        self.lm_head = randn(V, H, std=s)
        inv = 1.0 / (cfg["theta"] ** (torch.arange(0, d, 2, device=DEV, dtype=torch.float32) / d))
        t = torch.arange(max_pos, device=DEV, dtype=torch.float32)
        fr = torch.outer(t, inv)
        emb = torch.cat((fr, fr), dim=-1)
        self.cos = emb.cos().to(BF16)
        self.sin = emb.sin().to(BF16)
        self.kvbuf = None
        self.caches = None
        self.gqa = h != kvh
        try:
            q = randn(1, h, 1, d)
            k = randn(1, kvh, 4, d)
            F.scaled_dot_product_attention(q, k, k, enable_gqa=self.gqa)
            self.has_gqa_kw = True
        except TypeError:
            self.has_gqa_kw = False

    def weight_bytes(self):
        n = self.emb.numel() + self.lm_head.numel() + self.norm.numel()
        for l in self.layers:
            for v in l.values():
                if v is not None:
                    n += v.numel()
        return 2 * n

    def kv_bytes_per_token(self):
        return 2 * self.L * self.kvh * self.d * 2

    def alloc_kv(self, budget_bytes):
        n = int(budget_bytes // 2)
        self.kvbuf = torch.empty(n, device=DEV, dtype=BF16)
        # fill with random values (never time on zeros); chunked to bound temp memory
        ch = 256 * MiB
        for i in range(0, n, ch):
            self.kvbuf[i:i + ch].normal_()
        self.kvcap = n * 2

    def setup_cache(self, B, T):
        """Carve per-layer [B, kvh, T, d] K and V views out of the preallocated buffer."""
        per = B * self.kvh * T * self.d
        need = 2 * self.L * per
        if need > self.kvbuf.numel():
            raise RuntimeError("KV cache %d bytes exceeds buffer %d" % (2 * need, self.kvcap))
        caches = []
        off = 0
        for _ in range(self.L):
            k = self.kvbuf[off:off + per].view(B, self.kvh, T, self.d)
            off += per
            v = self.kvbuf[off:off + per].view(B, self.kvh, T, self.d)
            off += per
            caches.append((k, v))
        self.caches = caches

    def sdpa(self, q, k, v, causal):
        if self.gqa:
            if self.has_gqa_kw:
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
            r = self.h // self.kvh
            k = k.repeat_interleave(r, dim=1)
            v = v.repeat_interleave(r, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def forward(self, ids, start, P=_noprof):
        B, T = ids.shape
        h, kvh, d = self.h, self.kvh, self.d
        with P("embed"):
            x = F.embedding(ids, self.emb)
        cos = self.cos[start:start + T][None, None]
        sin = self.sin[start:start + T][None, None]
        for li, lw in enumerate(self.layers):
            with P("attn_norm"):
                hn = hf_rmsnorm(x, lw["ln1"])
            with P("qkv"):
                qkv = F.linear(hn, lw["wqkv"], lw["bqkv"])
            with P("rope"):
                q, k, v = qkv.split([h * d, kvh * d, kvh * d], dim=-1)
                q = q.view(B, T, h, d).transpose(1, 2)
                k = k.view(B, T, kvh, d).transpose(1, 2)
                v = v.view(B, T, kvh, d).transpose(1, 2)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
            with P("attn"):
                kc, vc = self.caches[li]
                kc[:, :, start:start + T] = k
                vc[:, :, start:start + T] = v
                if T > 1:
                    o = self.sdpa(q, k, v, True)
                else:
                    o = self.sdpa(q, kc[:, :, :start + T], vc[:, :, :start + T], False)
                o = o.transpose(1, 2).reshape(B, T, h * d)
            with P("o_proj"):
                a = F.linear(o, lw["wo"])
            with P("residual"):
                x = x + a
            with P("mlp_norm"):
                hn = hf_rmsnorm(x, lw["ln2"])
            with P("gate_up"):
                gu = F.linear(hn, lw["wgu"])
            with P("act"):
                g_, u_ = gu.chunk(2, dim=-1)
                m = F.silu(g_) * u_
            with P("down"):
                dn = F.linear(m, lw["wd"])
            with P("residual"):
                x = x + dn
        with P("final_norm"):
            x = hf_rmsnorm(x, self.norm)
        with P("lm_head"):
            logits = F.linear(x[:, -1, :], self.lm_head)
        with P("sample"):
            tok = logits.argmax(dim=-1)
        return tok

    def free(self):
        self.layers = None
        self.emb = self.lm_head = self.kvbuf = self.caches = None


def time_step(fn, reps, warm):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    s, e = ev(), ev()
    for _ in range(reps):
        torch.cuda.synchronize()
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e) / 1e3)
    return median(ts), ts


class SyncOpTimer:
    """CUDA events around each op, with torch.cuda.synchronize() before and after it."""

    def __init__(self):
        self.acc = {}
        self.s, self.e = ev(), ev()

    @contextlib.contextmanager
    def __call__(self, name):
        torch.cuda.synchronize()
        self.s.record()
        try:
            yield
        finally:
            self.e.record()
            self.e.synchronize()
            self.acc[name] = self.acc.get(name, 0.0) + self.s.elapsed_time(self.e) / 1e3


def kernel_breakdown(step_with_P, reps, tracedir, tag):
    """Sum of GPU kernel (+memcpy/memset) durations per op annotation, via torch.profiler."""
    from torch.profiler import profile, ProfilerActivity, record_function
    step_with_P(record_function)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            step_with_P(record_function)
        torch.cuda.synchronize()
    path = os.path.join(tracedir, "trace_%s.json" % tag)
    prof.export_chrome_trace(path)
    with open(path) as f:
        tr = json.load(f)
    try:
        os.remove(path)
    except Exception:
        pass
    evs = tr["traceEvents"] if isinstance(tr, dict) else tr
    ann = {}
    corr_launch = {}
    gpu = []
    gpu_ann = {}
    opset = set(OPNAMES)
    for e in evs:
        if e.get("ph") != "X":
            continue
        cat = e.get("cat", "")
        name = e.get("name", "")
        if cat == "user_annotation" and name in opset:
            ann.setdefault(e.get("tid"), []).append((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), name))
        elif cat in ("cuda_runtime", "cuda_driver"):
            c = (e.get("args") or {}).get("correlation")
            if c is not None:
                corr_launch[c] = (e.get("tid"), float(e["ts"]))
        elif cat in ("kernel", "gpu_memcpy", "gpu_memset"):
            c = (e.get("args") or {}).get("correlation")
            gpu.append((c, float(e.get("dur", 0))))
        elif cat == "gpu_user_annotation" and name in opset:
            gpu_ann[name] = gpu_ann.get(name, 0.0) + float(e.get("dur", 0))
    for tid in ann:
        ann[tid].sort()
    import bisect
    starts = {tid: [a[0] for a in lst] for tid, lst in ann.items()}
    res = {}
    unassigned = 0.0
    for c, dur in gpu:
        l = corr_launch.get(c)
        name = None
        if l is not None:
            tids = [l[0]] + [t for t in ann if t != l[0]]
            for tid in tids:
                if tid not in ann:
                    continue
                i = bisect.bisect_right(starts[tid], l[1]) - 1
                if i >= 0:
                    a = ann[tid][i]
                    if a[0] <= l[1] <= a[1]:
                        name = a[2]
                        break
        if name is None:
            unassigned += dur
        else:
            res[name] = res.get(name, 0.0) + dur
    if not res and gpu_ann:
        res = gpu_ann
    res = {k: v / 1e6 / reps for k, v in res.items()}  # us -> s, per step
    return res, unassigned / 1e6 / reps


SCOLS = ["model", "phase", "batch", "prompt", "context", "mode", "seconds", "tokens"]
OCOLS = ["model", "phase", "batch", "prompt", "context", "op", "seconds"]

OPS_CONFIGS = {
    "llama3-8b": [("prefill", 1, 2048), ("prefill", 4, 512), ("decode", 32, 1024), ("decode", 64, 4096)],
    "qwen2.5-14b": [("decode", 64, 2048)],
    "llama2-7b": [],
}


def _record_sdpa_choice(key, q_shape, k_shape, causal, gqa, kv_views=None):
    """Record torch's default SDPA backend choice for a step config (no tensors outlive this call)."""
    try:
        q = randn(*q_shape)
        if kv_views is not None:
            k, v = kv_views
        else:
            k = randn(*k_shape)
            v = k
        SDPA_DEFAULTS[key] = _sdpa_default_choice(q, k, v, causal, gqa)
    except Exception:
        pass


def bench_steps(steps_out, ops_out, opsk_out, quick, outdir):
    names = [m for m in ARGS.models.split(",") if m]
    for mname in names:
        if over_budget():
            log("budget exhausted before model", mname)
            return
        try:
            _bench_model(mname, names, steps_out, ops_out, opsk_out, quick)
        except Exception as ex:
            log("FAIL model %s: %s" % (mname, str(ex).splitlines()[0][:300]))
            traceback.print_exc()
        cleanup()
        log("after %s: free=%.2f GiB" % (mname, free_mem() / GiB))


def _bench_model(mname, names, steps_out, ops_out, opsk_out, quick):
    cfg = MODELS[mname]
    model = None
    if True:
        try:
            nl = 2 if quick else None
            model = Decoder(cfg, n_layers=nl)
            wb = model.weight_bytes()
            kvpt = model.kv_bytes_per_token()
            pre = [(1, 128), (4, 512)] if quick else \
                [(b, p) for b in (1, 4, 16) for p in (128, 512, 2048)] + [(1, 8192)]
            if ARGS.prefill_steps is not None:
                pre = STEP_GRID(ARGS.prefill_steps)
            # prefill: KV buffer just large enough for the largest prefill (keeps activation headroom)
            pre_need = max([B * P_ for (B, P_) in pre] + [1]) * kvpt
            model.alloc_kv(pre_need + MiB)
            torch.cuda.synchronize()
            log("model %s layers=%d weights=%.2f GiB prefill kvbuf=%.2f GiB free=%.2f GiB" % (
                mname, model.L, wb / GiB, pre_need / GiB, free_mem() / GiB))
            # ---------------- prefill (eager)
            for (B, P_) in pre:
                if over_budget():
                    log("budget exhausted in prefill")
                    break
                try:
                    model.setup_cache(B, P_)
                    ids = torch.randint(0, cfg["V"], (B, P_), device=DEV)
                    _record_sdpa_choice("step %s prefill %dx%d" % (mname, B, P_), (B, model.h, P_, model.d),
                                        (B, model.kvh, P_, model.d), True, model.gqa)
                    t, ts = time_step(lambda: model.forward(ids, 0), ARGS.reps, ARGS.warmup)
                    steps_out.row(model=mname, phase="prefill", batch=B, prompt=P_, context=0, mode="eager",
                                  seconds=t, tokens=B * P_)
                    log("prefill %s %dx%d eager %.3f ms (%.0f tok/s) spread %.1f%%" % (
                        mname, B, P_, t * 1e3, B * P_ / t, 100 * (max(ts) - min(ts)) / t))
                    del ids
                except Exception as ex:
                    log("FAIL prefill %s %dx%d: %s" % (mname, B, P_, str(ex).splitlines()[0][:200]))
                cleanup()
            # ---------------- decode (eager + cudagraph): big KV buffer, decode activations are tiny
            model.kvbuf = None
            model.caches = None
            cleanup()
            kv_budget = min(40 * GiB, free_mem() - 4 * GiB)
            if quick:
                kv_budget = min(kv_budget, 4 * GiB)
            model.alloc_kv(kv_budget)
            torch.cuda.synchronize()
            log("model %s decode kvbuf=%.2f GiB free=%.2f GiB" % (mname, kv_budget / GiB, free_mem() / GiB))
            dec = [(8, 1024), (64, 128)] if quick else \
                [(b, c) for b in DECODE_B for c in (128, 1024, 4096, 8192)]
            if ARGS.decode_steps is not None:
                dec = STEP_GRID(ARGS.decode_steps)
            for (B, C) in dec:
                if over_budget():
                    log("budget exhausted in decode")
                    break
                need = B * (C + 1) * kvpt
                if need > model.kvcap:
                    log("skip decode %s %dx%d: KV %.1f GiB > %.1f GiB" % (mname, B, C, need / GiB, model.kvcap / GiB))
                    continue
                try:
                    model.setup_cache(B, C + 1)
                    ids = torch.randint(0, cfg["V"], (B, 1), device=DEV)
                    fn = lambda: model.forward(ids, C)
                    _record_sdpa_choice("step %s decode %dx%d" % (mname, B, C), (B, model.h, 1, model.d),
                                        None, False, model.gqa, kv_views=model.caches[0])
                    t, ts = time_step(fn, max(ARGS.reps, 20), ARGS.warmup)
                    steps_out.row(model=mname, phase="decode", batch=B, prompt=0, context=C, mode="eager",
                                  seconds=t, tokens=B)
                    tg = None
                    try:
                        st = torch.cuda.Stream()
                        st.wait_stream(torch.cuda.current_stream())
                        with torch.cuda.stream(st):
                            for _ in range(2):
                                fn()
                        torch.cuda.current_stream().wait_stream(st)
                        torch.cuda.synchronize()
                        g = torch.cuda.CUDAGraph()
                        with torch.cuda.graph(g):
                            static_out = fn()
                        tg, tsg = time_step(g.replay, max(ARGS.reps, 20), ARGS.warmup)
                        steps_out.row(model=mname, phase="decode", batch=B, prompt=0, context=C,
                                      mode="cudagraph", seconds=tg, tokens=B)
                        del g, static_out
                    except Exception as ex:
                        log("FAIL cudagraph decode %s %dx%d: %s" % (mname, B, C, str(ex).splitlines()[0][:200]))
                    log("decode %s %dx%d eager %.3f ms graph %s ms (KV %.2f GiB)" % (
                        mname, B, C, t * 1e3, "%.3f" % (tg * 1e3) if tg else "-", need / GiB))
                    del ids
                except Exception as ex:
                    log("FAIL decode %s %dx%d: %s" % (mname, B, C, str(ex).splitlines()[0][:200]))
                cleanup()
            # ---------------- per-op breakdown
            ocfgs = OPS_CONFIGS.get(mname, []) if not ARGS.no_ops else []
            if quick:
                ocfgs = [("prefill", 2, 256), ("decode", 8, 512)] if mname == names[0] else []
            for (phase, B, n) in ocfgs:
                if over_budget():
                    log("budget exhausted in ops")
                    break
                try:
                    if phase == "prefill":
                        model.setup_cache(B, n)
                        ids = torch.randint(0, cfg["V"], (B, n), device=DEV)
                        start = 0
                        prompt, ctx = n, 0
                    else:
                        model.setup_cache(B, n + 1)
                        ids = torch.randint(0, cfg["V"], (B, 1), device=DEV)
                        start = n
                        prompt, ctx = 0, n
                    for _ in range(ARGS.warmup):
                        model.forward(ids, start)
                    torch.cuda.synchronize()
                    per_rep = []
                    for _ in range(ARGS.reps):
                        tm = SyncOpTimer()
                        model.forward(ids, start, P=tm)
                        per_rep.append(tm.acc)
                    tot = 0.0
                    for op in OPNAMES:
                        v = median([r.get(op, 0.0) for r in per_rep])
                        tot += v
                        ops_out.row(model=mname, phase=phase, batch=B, prompt=prompt, context=ctx, op=op, seconds=v)
                    log("ops(sync) %s %s B=%d n=%d sum %.3f ms" % (mname, phase, B, n, tot * 1e3))
                    try:
                        kb, un = kernel_breakdown(lambda P: model.forward(ids, start, P=P), min(ARGS.reps, 5),
                                                  "/tmp", "%s_%s_%d_%d" % (mname, phase, B, n))
                        ktot = 0.0
                        for op in OPNAMES:
                            opsk_out.row(model=mname, phase=phase, batch=B, prompt=prompt, context=ctx, op=op,
                                         seconds=kb.get(op, 0.0))
                            ktot += kb.get(op, 0.0)
                        log("ops(kernels) %s %s B=%d n=%d sum %.3f ms unassigned %.3f ms: %s" % (
                            mname, phase, B, n, ktot * 1e3, un * 1e3,
                            " ".join("%s=%.3f" % (k, kb.get(k, 0) * 1e3) for k in OPNAMES)))
                    except Exception as ex:
                        log("FAIL profiler breakdown: %s" % str(ex).splitlines()[0][:200])
                        traceback.print_exc()
                    del ids
                except Exception as ex:
                    log("FAIL ops %s %s %d %d: %s" % (mname, phase, B, n, str(ex).splitlines()[0][:200]))
                cleanup()
        finally:
            if model is not None:
                model.free()
            del model
            cleanup()


# --------------------------------------------------------------------------- provenance

def sh(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return (r.stdout + r.stderr).strip()
    except Exception as ex:
        return "(failed: %s)" % ex


def provenance(outdir, started_utc, sections, extra_lines):
    p = torch.cuda.get_device_properties(0)
    try:
        import triton
        tv = triton.__version__
    except Exception:
        tv = "n/a"
    lines = []
    lines.append("llmsim GPU ground truth (validate/gpu/measure.py)")
    lines.append("date_utc_start: %s" % started_utc)
    lines.append("date_utc_end: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    lines.append("gpu: %s" % torch.cuda.get_device_name(0))
    lines.append("sm_count: %d  capability: %d.%d  total_mem: %.2f GiB  l2_bytes: %d" % (
        p.multi_processor_count, p.major, p.minor, p.total_memory / GiB, L2_BYTES))
    lines.append("torch: %s" % torch.__version__)
    lines.append("torch.version.cuda: %s" % torch.version.cuda)
    lines.append("cudnn: %s" % torch.backends.cudnn.version())
    lines.append("triton: %s" % tv)
    lines.append("python: %s" % platform.python_version())
    lines.append("matmul.allow_bf16_reduced_precision_reduction: %s" %
                 torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction)
    lines.append("sections: %s  quick: %s  reps(steps/ops): %d  kernel_reps: %d  warmup: %d  budget_s: %s" % (
        sections, ARGS.quick, ARGS.reps, ARGS.kernel_reps, ARGS.warmup, ARGS.budget_s))
    lines.append("host: single-GPU VM, kernel %s, %s CPUs; GPU clocks/power left as found" % (platform.release(), os.cpu_count()))
    lines.append("")
    lines.append("method:")
    lines.append("  kernels.csv: median of %d timed reps after %d warm-up rounds; each timed rep is one CUDA-graph" % (ARGS.kernel_reps, ARGS.warmup))
    lines.append("    replay (eager loop if capture fails) of `inner` back-to-back calls cycling through rotating")
    lines.append("    buffer sets (footprint >= ~3x L2 where the cap allows), bracketed by CUDA events; seconds =")
    lines.append("    elapsed / inner.  backend = <impl>;<graph|eager>;<hbm|l2> where hbm means the rotating")
    lines.append("    footprint was >= 2x L2 (%d MB) so operands mostly come from HBM, l2 means it did not." % (L2_BYTES // 1000000))
    lines.append("  steps.csv: median of %d reps (prefill) / %d reps (decode, eager and cudagraph) after %d warm-ups;" % (
        ARGS.reps, max(ARGS.reps, 20), ARGS.warmup))
    lines.append("    each rep = torch.cuda.synchronize(), CUDA event,")
    lines.append("    one full forward step (eager python, or one CUDA-graph replay), CUDA event.  Random bf16 weights,")
    lines.append("    HF-transformers-style eager ops, SDPA attention (default backend choice), preallocated KV cache")
    lines.append("    filled with random values.")
    lines.append("  ops.csv: per-op seconds (summed over layers) of the eager step; torch.cuda.synchronize() before and")
    lines.append("    after every op, CUDA events around it; median over reps. Includes CPU launch latency of each op.")
    lines.append("  ops_kernels.csv: same ops, but the sum of GPU kernel/memcpy/memset durations attributed to each op")
    lines.append("    via torch.profiler (record_function ranges), averaged over 5 steps. Excludes launch gaps.")
    lines.append("")
    for k, v in extra_lines:
        lines.append("%s: %s" % (k, v))
    lines.append("")
    lines.append("nvidia-smi --query-gpu:")
    lines.append(sh(["nvidia-smi", "--query-gpu=name,driver_version,vbios_version,memory.total,pstate,"
                     "clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.limit,power.max_limit,"
                     "power.draw,temperature.gpu,persistence_mode,compute_mode", "--format=csv"]))
    lines.append("")
    lines.append("nvidia-smi -q -d CLOCK,POWER,PERFORMANCE,COMPUTE:")
    lines.append(sh(["nvidia-smi", "-q", "-d", "CLOCK,POWER,PERFORMANCE,COMPUTE"]))
    lines.append("")
    lines.append("nvidia-smi:")
    lines.append(sh(["nvidia-smi"]))
    if SDPA_DEFAULTS:
        lines.append("")
        lines.append("SDPA default backend choice (torch._fused_sdp_choice) per attention config:")
        for k, v in SDPA_DEFAULTS.items():
            lines.append("  %s -> %s" % (k, v))
    with open(os.path.join(outdir, "provenance.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- main

def main():
    global ARGS, DEADLINE, LOGF, L2_BYTES
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--budget-s", type=float, default=480.0)
    ap.add_argument("--sections", default="kernels,steps")
    ap.add_argument("--kernels", default="gemm,fp8,mem,attn,elementwise")
    ap.add_argument("--models", default="llama3-8b,llama2-7b,qwen2.5-14b")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--kernel-reps", type=int, default=20)
    # Grid overrides of the attention section (e.g. short caches at large batch):
    # comma lists; --prefill-bs "" skips prefill attention, --headcfg lists
    # heads:kv_heads:head_dim.
    ap.add_argument("--decode-b", default=None)
    ap.add_argument("--decode-kv", default=None)
    ap.add_argument("--prefill-bs", default=None, help="B:S,... (empty: none)")
    ap.add_argument("--headcfg", default=None)
    # Step grids (steps section): B:P prefill shapes and B:C decode shapes;
    # --no-ops skips the per-op breakdown.
    ap.add_argument("--prefill-steps", default=None)
    ap.add_argument("--decode-steps", default=None)
    ap.add_argument("--no-ops", action="store_true")
    ARGS = ap.parse_args()
    global DECODE_B, DECODE_KV, PREFILL_BS, HEADCFG
    ints = lambda v: [int(x) for x in v.split(",") if x]
    if ARGS.decode_b is not None:
        DECODE_B = ints(ARGS.decode_b)
    if ARGS.decode_kv is not None:
        DECODE_KV = ints(ARGS.decode_kv)
    if ARGS.prefill_bs is not None:
        PREFILL_BS = [tuple(int(y) for y in x.split(":")) for x in ARGS.prefill_bs.split(",") if x]
    if ARGS.headcfg is not None:
        HEADCFG = [tuple(int(y) for y in x.split(":")) for x in ARGS.headcfg.split(",") if x]
    warnings.filterwarnings("ignore", category=UserWarning)
    os.makedirs(ARGS.out, exist_ok=True)
    LOGF = open(os.path.join(ARGS.out, "log.txt"), "a")
    DEADLINE = T0 + ARGS.budget_s
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    torch.manual_seed(0)
    p = torch.cuda.get_device_properties(0)
    L2_BYTES = int(getattr(p, "L2_cache_size", 0) or 50 * 1000 * 1000)
    log("gpu", torch.cuda.get_device_name(0), "torch", torch.__version__, "cuda", torch.version.cuda,
        "L2", L2_BYTES, "quick", ARGS.quick, "budget", ARGS.budget_s)
    sections = ARGS.sections.split(",")
    extra = []
    try:
        if "kernels" in sections:
            kout = CsvOut(os.path.join(ARGS.out, "kernels.csv"), KCOLS)
            ks = ARGS.kernels.split(",")
            for name, fn in (("gemm", bench_gemm), ("fp8", bench_gemm_fp8), ("mem", bench_mem),
                             ("attn", bench_attn), ("elementwise", bench_elementwise)):
                if name not in ks:
                    continue
                t = time.time()
                try:
                    fn(kout, ARGS.quick)
                except Exception as ex:
                    log("FAIL section %s: %s" % (name, ex))
                    traceback.print_exc()
                log("section %s done in %.1fs (rows so far %d)" % (name, time.time() - t, kout.n))
                extra.append(("section_%s_s" % name, "%.1f" % (time.time() - t)))
            kout.close()
        if "steps" in sections:
            t = time.time()
            sout = CsvOut(os.path.join(ARGS.out, "steps.csv"), SCOLS)
            oout = CsvOut(os.path.join(ARGS.out, "ops.csv"), OCOLS)
            okout = CsvOut(os.path.join(ARGS.out, "ops_kernels.csv"), OCOLS)
            try:
                bench_steps(sout, oout, okout, ARGS.quick, ARGS.out)
            except Exception as ex:
                log("FAIL section steps: %s" % ex)
                traceback.print_exc()
            log("section steps done in %.1fs (rows %d, ops %d, ops_kernels %d)" % (
                time.time() - t, sout.n, oout.n, okout.n))
            extra.append(("section_steps_s", "%.1f" % (time.time() - t)))
            sout.close()
            oout.close()
            okout.close()
    finally:
        if over_budget():
            extra.append(("budget", "EXHAUSTED: some measurements were skipped (see log.txt)"))
        try:
            provenance(ARGS.out, started, ARGS.sections, extra)
        except Exception as ex:
            log("FAIL provenance: %s" % ex)
        log("done; total %.1fs" % (time.time() - T0))


if __name__ == "__main__":
    main()
