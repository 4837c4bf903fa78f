#!/usr/bin/env python3
"""How two processes share one host's CPU attention: ground truth for `llmsim simulate --host-share`.

FlexGen-style CPU attention (cpu_cache_compute: fp32 bmm of one query per
sequence and head against its K and V, softmax between) in one process,
alone and with a second identical process running at the same time (a
barrier starts them together). Each process uses all the host's threads,
as FlexGen's does, and then half of them. llmsim's shared-host model
divides a host group's rates by 1 + the other members' busy fraction: two
members that both keep the CPU busy all the time should each take twice as
long.

Writes --out DIR/hostshare_cpu.csv (case, processes, threads per process,
median seconds of one attention pass) and provenance_hostshare_cpu.txt.
"""

import os
import statistics
import time

import torch

from gpulib import out_dir_args, run_together, write_csv, write_provenance

HEADS_X_BATCH, CONTEXT, HEAD_DIM, REPS = 1024, 2048, 128, 8


def attention_seconds(threads, barrier=None, results=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    q = torch.randn(HEADS_X_BATCH, 1, HEAD_DIM)
    k = torch.randn(HEADS_X_BATCH, HEAD_DIM, CONTEXT)
    v = torch.randn(HEADS_X_BATCH, CONTEXT, HEAD_DIM)

    def once():
        w = torch.softmax(torch.bmm(q, k), dim=2)
        return torch.bmm(w, v)

    once()
    if barrier is not None:
        barrier.wait()
    ts = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        once()
        ts.append(time.perf_counter() - t0)
    s = statistics.median(ts)
    if results is not None:
        results.put(s)
    return s


def together(n, threads):
    return run_together([(attention_seconds, (threads,))] * n)


def main():
    args = out_dir_args()
    cpus = os.cpu_count()
    rows = []
    for threads in (cpus, cpus // 2):
        for n in (1, 2):
            for s in together(n, threads):
                rows.append(dict(processes=n, threads=threads, seconds=s,
                                 kv_bytes=2 * HEADS_X_BATCH * CONTEXT * HEAD_DIM * 4))
                print(rows[-1], flush=True)
    write_csv(os.path.join(args.out, "hostshare_cpu.csv"), rows)
    write_provenance(os.path.join(args.out, "provenance_hostshare_cpu.txt"),
                     f"fp32 bmm-softmax-bmm attention, {HEADS_X_BATCH} heads x batch, context {CONTEXT}, head dim {HEAD_DIM}; "
                     f"median of {REPS} passes per process after one warm-up; processes start together at a barrier",
                     extra=[f"cpus: {cpus}"])


if __name__ == "__main__":
    main()
