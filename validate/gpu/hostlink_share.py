#!/usr/bin/env python3
"""Do GPUs of one host slow each other's host copies? Ground truth for `llmsim simulate --host-share`.

llmsim's shared-host model (hw.System.SharedHost) gives every GPU its own
PCIe link to the host and lets only host-side groups (CPU compute and DRAM,
drives) be divided among the replicas of a host. This script checks that on
a machine with several GPUs: each GPU in its own process copies 1 GiB
between pinned host memory and its memory, host to device and device to
host, alone and with every other GPU copying at the same instant (a
barrier starts them together); and the host's own DRAM copy rate (a 1 GiB
torch copy on the CPU) alone and while all GPUs stream host to device.

Writes --out DIR/hostlink_share.csv (one row per case and GPU: bytes,
median seconds of 10 copies, GB/s) and provenance_hostlink_share.txt.
"""

import os
import statistics
import time

import torch

from gpulib import out_dir_args, run_together, write_csv, write_provenance

GIB = 1 << 30
REPS = 10


def gpu_worker(dev, direction, barrier, results, reps=REPS):
    torch.cuda.set_device(dev)
    host = torch.empty(GIB, dtype=torch.uint8, pin_memory=True)
    host.fill_(1)
    gpu = torch.empty(GIB, dtype=torch.uint8, device=f"cuda:{dev}")

    def once():
        if direction == "h2d":
            gpu.copy_(host, non_blocking=True)
        else:
            host.copy_(gpu, non_blocking=True)

    for _ in range(2):
        once()
    torch.cuda.synchronize()
    barrier.wait()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        once()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) / 1e3)
    results.put((dev, statistics.median(ts)))


def cpu_copy_seconds(reps=REPS):
    src = torch.ones(GIB, dtype=torch.uint8)
    dst = torch.empty_like(src)
    dst.copy_(src)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        dst.copy_(src)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def cpu_worker(barrier, results):
    barrier.wait()
    results.put(("cpu", cpu_copy_seconds()))


def run_case(devs, direction, with_cpu=False):
    workers = [(gpu_worker, (d, direction)) for d in devs]
    if with_cpu:
        workers.append((cpu_worker, ()))
    return run_together(workers)


def main():
    args = out_dir_args()
    n = torch.cuda.device_count()
    rows = []

    def add(case, concurrent, who, seconds):
        rows.append(dict(case=case, concurrent_gpus=concurrent, device=who, bytes=GIB,
                         seconds=seconds, gbps=GIB / seconds / 1e9))
        print(case, concurrent, who, f"{GIB / seconds / 1e9:.1f} GB/s", flush=True)

    add("cpu_copy_alone", 0, "cpu", cpu_copy_seconds())
    for direction in ("h2d", "d2h"):
        for d in range(n):
            for dev, s in run_case([d], direction):
                add(direction + "_alone", 1, f"cuda:{dev}", s)
        if n > 1:
            for dev, s in run_case(list(range(n)), direction):
                add(direction + "_together", n, f"cuda:{dev}", s)
    for who, s in run_case(list(range(n)), "h2d", with_cpu=True):
        add("h2d_with_cpu_copy", n, who if who == "cpu" else f"cuda:{who}", s)
    write_csv(os.path.join(args.out, "hostlink_share.csv"), rows)
    write_provenance(os.path.join(args.out, "provenance_hostlink_share.txt"),
                     f"{n} GPUs; each GPU in its own process copies 1 GiB pinned host<->device, median of {REPS} "
                     "CUDA-event-timed copies after 2 warm-ups; cases start together at a barrier; the CPU "
                     "copy is a 1 GiB torch uint8 copy on the host (median of 10, perf_counter)",
                     extra=[f"cpus: {os.cpu_count()}", f"gpus: {n}"])


if __name__ == "__main__":
    main()
