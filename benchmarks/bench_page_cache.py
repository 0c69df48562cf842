#!/usr/bin/env python3
"""What writing new files costs when their pages stay in the page cache, against
dropping them once on disk (what the store's segments do since 5217e1c).

On some VMs a page the guest has not used for a while is memory the host must
fault in again (a balloon device's free page reporting hands freed memory back
to the host), so a page cache that grows by a session's checkpoints keeps
taking memory that is slow to touch.  This writes FILES new files of 128 MiB
each (1 MiB writes from one warm buffer) in two ways, taking turns over REPS
repetitions in one run, each into an empty directory that is removed after:
- "keep": written and closed, the pages left in the cache (the kernel writes
  them back when it likes);
- "drop": written, fsynced, then POSIX_FADV_DONTNEED (the fsync's wait timed
  apart).
After each way its files are removed and the run pauses PAUSE_S seconds, so
that no way finds the memory the one before freed still warm.  Per file: the time of the writes, and the time to fill a new 128 MiB NumPy
array (the host program's next big allocation).  The page cache's size
(Cached in /proc/meminfo) is read before and after each way.

Usage: build/venv/bin/python benchmarks/bench_page_cache.py [--files N] [--reps N] [--out FILE]
(default 12 files, 2 repetitions, benchmarks/results/page-cache.json).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_common import machine, write_result  # noqa: E402

FILE_BYTES = 128 << 20
WRITE_BYTES = 1 << 20
PAUSE_S = 10


def cached_mb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Cached:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_one(path: str, data: memoryview, drop: bool) -> tuple[float, float]:
    """(seconds writing, seconds in fsync + drop) for one new file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        start = time.perf_counter()
        for offset in range(0, len(data), WRITE_BYTES):
            os.write(fd, data[offset:offset + WRITE_BYTES])
        written = time.perf_counter()
        if drop:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return written - start, time.perf_counter() - written
    finally:
        os.close(fd)


def new_array_seconds() -> float:
    start = time.perf_counter()
    a = np.ones(FILE_BYTES // 8)
    seconds = time.perf_counter() - start
    del a
    return seconds


def one_way(scratch: str, data: memoryview, files: int, drop: bool) -> dict:
    directory = tempfile.mkdtemp(prefix="drop-" if drop else "keep-", dir=scratch)
    before = cached_mb()
    write_s, sync_s, array_s = [], [], []
    try:
        for i in range(files):
            w, s = write_one(os.path.join(directory, f"f{i}"), data, drop)
            write_s.append(round(w, 4))
            sync_s.append(round(s, 4))
            array_s.append(round(new_array_seconds(), 4))
        after = cached_mb()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        os.sync()
        # The pages just freed are memory the next way would find warm; a
        # pause lets a VM that reports free memory to its host hand them back
        # (Linux reports after about 2 s), so each way starts as a long
        # session's cache grows: into memory not used lately.
        time.sleep(PAUSE_S)
    return {"way": "drop" if drop else "keep", "write_s": write_s, "fsync_drop_s": sync_s,
            "new_array_s": array_s, "cached_mb_before": round(before), "cached_mb_after": round(after)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "page-cache.json"))
    args = parser.parse_args()
    data = memoryview(np.random.default_rng(0).random(FILE_BYTES // 8).tobytes())
    scratch = tempfile.mkdtemp(prefix="nbr-page-cache-", dir=os.environ.get("TMPDIR", "/tmp"))
    runs = []
    try:
        for rep in range(args.reps):
            for drop in ((True, False) if rep % 2 == 0 else (False, True)):
                run = one_way(scratch, data, args.files, drop)
                run["rep"] = rep
                runs.append(run)
                print(f"  rep {rep} {run['way']}: write ms {[round(1000 * x) for x in run['write_s']]}"
                      f"; fsync+drop ms {[round(1000 * x) for x in run['fsync_drop_s']]}"
                      f"; new array ms {[round(1000 * x) for x in run['new_array_s']]}"
                      f"; Cached {run['cached_mb_before']} -> {run['cached_mb_after']} MB",
                      flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = {}
    for way in ("keep", "drop"):
        mine = [r for r in runs if r["way"] == way]
        writes = [w for r in mine for w in r["write_s"]]
        summary[way] = {
            "median_write_s": round(statistics.median(writes), 4),
            "max_write_s": round(max(writes), 4),
            "median_write_plus_fsync_drop_s": round(statistics.median(
                w + s for r in mine for w, s in zip(r["write_s"], r["fsync_drop_s"])), 4),
            "median_new_array_s": round(statistics.median(a for r in mine for a in r["new_array_s"]), 4)}
    print(f"keep: median write {summary['keep']['median_write_s'] * 1000:.0f} ms "
          f"(max {summary['keep']['max_write_s'] * 1000:.0f}); drop: median write "
          f"{summary['drop']['median_write_s'] * 1000:.0f} ms, with fsync + drop "
          f"{summary['drop']['median_write_plus_fsync_drop_s'] * 1000:.0f} ms")
    write_result({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                  "machine": machine(("numpy",)),
                  "file_bytes": FILE_BYTES, "files_per_way": args.files, "reps": args.reps,
                  "summary": summary, "runs": runs}, args.out)


if __name__ == "__main__":
    main()
