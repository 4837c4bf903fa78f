"""Shared helpers of the single-purpose GPU scripts (flexgen_comp.py, tokenselect.py, offload.py)."""

import datetime
import platform
import statistics
import subprocess

import torch


def timed_events(fn, reps, warmup):
    """Median seconds of fn over reps runs after warmup runs, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) / 1e3)
    return statistics.median(ts)


def write_provenance(path, method, extra=()):
    """Date, GPU, driver, software versions, extra lines and the method, one per line."""
    drv = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    with open(path, "w") as f:
        f.write(f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat()}\n")
        f.write(f"gpu, driver: {drv}\n")
        for line in extra:
            f.write(line + "\n")
        f.write(f"torch: {torch.__version__}, cuda: {torch.version.cuda}, python: {platform.python_version()}\n")
        f.write(f"method: {method}\n")


def write_csv(path, rows):
    """rows (dicts with the same keys) as a CSV with a header row."""
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def out_dir_args(add=None):
    """Parse --out DIR (created) and seed torch: the start of each one-table script.
    add(parser), when given, adds the script's own flags."""
    import argparse
    import os
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    if add is not None:
        add(ap)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    return args


def run_together(workers):
    """Run each (target, args) in its own spawned process, all released at once.

    Every target is called as target(*args, barrier, results): it waits at the
    shared barrier before its timed part and puts one result on the queue.
    Returns the results in the order they arrive."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(len(workers)), ctx.Queue()
    procs = [ctx.Process(target=t, args=tuple(a) + (barrier, results)) for t, a in workers]
    for p in procs:
        p.start()
    out = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return out
