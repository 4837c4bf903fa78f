#!/usr/bin/env python3
"""Time FlexGen's group-wise 4-bit (de)compression kernels on this GPU.

FlexGen (flexgen/compression.py, TorchCompressedDevice) stores weights and
the KV cache as 4-bit codes plus an fp16 scale and minimum per group of 64
and expands them with unfused PyTorch ops every time they are used. llmsim
prices that sequence as element-wise kernels (offload/flexgen_comp.go:
decompress 6 kernels, 6 B read + 9 B written per value; compress ~12
kernels, 15.5 B read + 10 B written). This script runs the same op sequence
(written here from the algorithm, same kernels) on tensors of the shapes
FlexGen uses and records, per case, the median time, the values processed
and the time of a plain fp16 copy of the same number of values, so the
effective bytes per value can be compared with the model's.

Writes --out DIR/flexgen_comp.csv and provenance_flexgen_comp.txt.

With --cpu the same kernels run on the host CPU (all its threads, fp16
tensors as FlexGen keeps them there) for cache shapes: what FlexGen's
compressed cache costs when attention runs on the CPU (--cpu
--compress-cache: mha_gen decompresses the host cache there, then converts
it to fp32). Also timed: that fp32 conversion. Writes
flexgen_comp_cpu.csv and provenance_flexgen_comp_cpu.txt.
"""

import time

import os

import torch

from gpulib import out_dir_args, timed_events, write_csv, write_provenance

DEV = "cuda"


def timed(fn, reps=20, warmup=5):
    return timed_events(fn, reps, warmup)


def compress(t, group, dim):
    """Group-wise asymmetric 4-bit quantisation along dim, packed 2 per byte."""
    shape = t.shape
    ng = (shape[dim] + group - 1) // group
    data = t.view(shape[:dim] + (ng, group) + shape[dim + 1:])
    mn = torch.min(data, dim=dim + 1, keepdim=True)[0]
    mx = torch.max(data, dim=dim + 1, keepdim=True)[0]
    scale = 15 / (mx - mn)
    data = data - mn
    data.mul_(scale)
    data = data.clamp_(0, 15).round_().to(torch.uint8)
    left = tuple(slice(0, x) for x in data.shape[:dim + 1]) + (slice(0, data.shape[dim + 1], 2),)
    right = tuple(slice(0, x) for x in data.shape[:dim + 1]) + (slice(1, data.shape[dim + 1], 2),)
    packed = torch.bitwise_or(data[left].bitwise_left_shift(4), data[right])
    packed = packed.view(shape[:dim] + (ng * (group // 2),) + shape[dim + 1:])
    sc = torch.cat([scale, mn], dim=dim + 1).view(shape[:dim] + (ng, 2) + shape[dim + 1:])
    return packed, sc


def decompress(packed, sc, shape, group, dim):
    gc = group // 2
    ps = packed.shape
    ng = ps[dim] // gc
    p = packed.view(ps[:dim] + (ng, gc) + ps[dim + 1:])
    out = torch.empty(ps[:dim] + (ng, group) + ps[dim + 1:], dtype=torch.float16, device=packed.device)
    left = tuple(slice(0, x) for x in out.shape[:dim + 1]) + (slice(0, out.shape[dim + 1], 2),)
    right = tuple(slice(0, x) for x in out.shape[:dim + 1]) + (slice(1, out.shape[dim + 1], 2),)
    out[left] = p.bitwise_right_shift(4)
    out[right] = p.bitwise_and(0xF)
    scale, mn = sc.view(ps[:dim] + (ng, 2) + ps[dim + 1:]).split(1, dim=dim + 1)
    out.div_(scale)
    out.add_(mn)
    return out.view(shape)


CASES = [
    # name, shape, group dim (FlexGen: weights 0, cache 2)
    ("weight_opt6.7b_qkvo", (4096, 4096), 0),
    ("weight_opt30b_fc1", (28672, 7168), 0),
    ("weight_opt175b_fc1", (49152, 12288), 0),
    ("cache_opt6.7b_gbs72", (543, 72 * 32, 128), 2),
    ("cache_opt30b_gbs64", (543, 64 * 56, 128), 2),
    ("cache_opt175b_gbs48", (543, 48 * 96, 128), 2),
    ("newkv_opt30b_gbs64", (1, 64 * 56, 128), 2),
    ("newkv_opt6.7b_gbs72", (1, 72 * 32, 128), 2),
]


CPU_CASES = [
    ("cache_opt6.7b_gbs8", (543, 8 * 32, 128), 2),
    ("cache_opt6.7b_gbs72", (543, 72 * 32, 128), 2),
    ("cache_opt30b_gbs64", (543, 64 * 56, 128), 2),
]


def timed_cpu(fn, reps=5, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def roundtrip(shape, dim, device):
    """A random fp16 tensor, its compressed form, the round trip's worst error and a copy target."""
    t = torch.randn(shape, dtype=torch.float16, device=device)
    packed, sc = compress(t, 64, dim)
    err = (decompress(packed, sc, shape, 64, dim) - t).abs().max().item()
    return t, t.numel(), packed, sc, err, torch.empty_like(t)


def main_cpu(args):
    rows = []
    for name, shape, dim in CPU_CASES:
        t, n, packed, sc, err, dst = roundtrip(shape, dim, "cpu")
        copy_s = timed_cpu(lambda: dst.copy_(t))
        dec_s = timed_cpu(lambda: decompress(packed, sc, shape, 64, dim))
        float_s = timed_cpu(lambda: t.float())
        rows.append(dict(case=name, shape="x".join(map(str, shape)), group_dim=dim, values=n,
                         copy_seconds=copy_s, decompress_seconds=dec_s, to_fp32_seconds=float_s,
                         max_abs_error=err, copy_gbps=4 * n / copy_s / 1e9, threads=torch.get_num_threads()))
        print(rows[-1], flush=True)
        del t, packed, sc, dst
    write_csv(os.path.join(args.out, "flexgen_comp_cpu.csv"), rows)
    write_provenance(os.path.join(args.out, "provenance_flexgen_comp_cpu.txt"),
                     "host CPU, torch on all threads, perf_counter, median of 5 after 1 warm-up; fp16 random normal inputs; group 64, 4 bits",
                     extra=[f"cpus: {os.cpu_count()}, torch threads: {torch.get_num_threads()}"])


def main():
    args = out_dir_args(lambda ap: ap.add_argument("--cpu", action="store_true"))
    if args.cpu:
        return main_cpu(args)
    rows = []
    for name, shape, dim in CASES:
        t, n, packed, sc, err, dst = roundtrip(shape, dim, DEV)
        copy_s = timed(lambda: dst.copy_(t))
        comp_s = timed(lambda: compress(t, 64, dim))
        dec_s = timed(lambda: decompress(packed, sc, shape, 64, dim))
        # FlexGen mha_gen permutes the cache with k.permute(1, 2, 0).reshape(...):
        # timed to check whether that copies (it does not: same shape, a view).
        perm_s = ""
        if len(shape) == 3:
            perm_s = timed(lambda: t.permute(1, 2, 0).reshape(shape[1], shape[2], shape[0]))
        rows.append(dict(case=name, shape="x".join(map(str, shape)), group_dim=dim, values=n,
                         copy_seconds=copy_s, compress_seconds=comp_s, decompress_seconds=dec_s,
                         permute_seconds=perm_s, max_abs_error=err,
                         copy_gbps=4 * n / copy_s / 1e9))
        print(rows[-1], flush=True)
        del t, packed, sc, dst
        torch.cuda.empty_cache()
    write_csv(os.path.join(args.out, "flexgen_comp.csv"), rows)
    write_provenance(os.path.join(args.out, "provenance_flexgen_comp.txt"),
                     "CUDA events, median of 20 after 5 warm-up; fp16 random normal inputs; group 64, 4 bits")


if __name__ == "__main__":
    main()
