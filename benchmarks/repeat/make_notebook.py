#!/usr/bin/env python3
"""Writes the distributed notebook the repeat benchmarks run
(benchmarks/repeat/bench_repeat.py), and the 500-cell planning notebook.

    make_notebook.py [OUT_DIR] [--quick]     default: this directory, full size

dask_pipeline.ipynb: a Dask LocalCluster on loopback (2 worker processes, one
thread each), then cells that each compute something substantial on it: a
Gram matrix of a random N x N matrix through dask.array, the eigenvalue
spectra of random symmetric matrices through client.map over NumPy work, the
singular values of a tall random matrix and a histogram of random draws
through dask.array; then summary cells (NumPy on the gathered results) and a
final plotting-like cell that prints the summary.  Every result is
deterministic (seeded), so a repeat can be compared with a fresh run.
"""
from __future__ import annotations

import os
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

# (gram side N, seeds for client.map, eigen side M, tall rows, histogram draws)
SIZES = {"full": (4500, 48, 1500, 800_000, 120_000_000),
         "quick": (1600, 8, 600, 200_000, 20_000_000)}

# cell ids, for the edits the benchmark makes
IDS = ["cluster", "params", "gram", "spectra", "tall_svd", "histogram", "summary", "table",
       "plot"]


def dask_cells(mode: str) -> list[str]:
    n, seeds, m, rows, draws = SIZES[mode]
    return [
        "from dask.distributed import LocalCluster, Client\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,\n"
        "                       host='127.0.0.1', dashboard_address=None)\n"
        "client = Client(cluster)",
        # params
        "import numpy as np\nimport dask.array as da\n"
        f"N = {n}\nCHUNK = N // 4\nSEEDS = list(range({seeds}))\nM = {m}\n"
        f"ROWS = {rows}\nDRAWS = {draws}",
        # gram: N x N float64 kept in the notebook
        "gram = (lambda a: (a @ a.T / N).compute())(\n"
        "    da.random.RandomState(42).standard_normal((N, N), chunks=(CHUNK, CHUNK)))\n"
        "print('gram', gram.shape, round(float(gram.trace()), 6))",
        # spectra: client.map over numpy work
        "def spectrum(seed, m=M):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    a = rng.standard_normal((m, m))\n"
        "    return np.linalg.eigvalsh(a + a.T)\n"
        "spectra = np.stack(client.gather(client.map(spectrum, SEEDS)))\n"
        "print('spectra', spectra.shape, round(float(spectra.max()), 6))",
        # tall_svd
        "singular = da.linalg.svd(\n"
        "    da.random.RandomState(7).random((ROWS, 200), chunks=(ROWS // 8, 200)))[1].compute()\n"
        "print('singular', singular[:3].round(6))",
        # histogram
        "hist = da.histogram(da.random.RandomState(3).standard_normal(DRAWS, chunks=DRAWS // 8),\n"
        "                    bins=200, range=(-5, 5))[0].compute()\n"
        "print('histogram', int(hist.sum()))",
        # summary (NumPy on the gathered results)
        "top = np.linalg.eigvalsh(gram[:N // 2, :N // 2])[-5:]\n"
        "summary = {'gram_trace': float(np.trace(gram)), 'gram_top': top.round(6).tolist(),\n"
        "           'gram_offdiag_rms': float(np.sqrt(((gram - np.diag(np.diag(gram))) ** 2).mean())),\n"
        "           'spectra_edge': float(np.abs(spectra).max()),\n"
        "           'spectra_mean_gap': float(np.diff(np.sort(spectra, axis=1), axis=1).mean()),\n"
        "           'singular_ratio': float(singular[0] / singular[-1]),\n"
        "           'hist_peak_bin': int(hist.argmax())}",
        # table
        "table = [(k, round(v, 6) if isinstance(v, float) else v) for k, v in summary.items()]",
        # plot
        "print('== summary ==')\n"
        "for k, v in table:\n"
        "    print(f'{k:>18}: {v}')\n"
        "print('histogram', ''.join('#' if c > hist.max() / 2 else '.' for c in hist[::5]))",
    ]


def chain_cells(count: int) -> list[str]:
    """Trivial chained cells: v0 = 0, v1 = v0 + 1, ..."""
    return ["v0 = 0"] + [f"v{k} = v{k - 1} + 1" for k in range(1, count)]


def write(path: str, sources: list[str], ids: list[str] | None = None) -> str:
    nb = new_notebook()
    nb.cells = [new_code_cell(s) for s in sources]
    for i, cell in enumerate(nb.cells):
        cell.id = ids[i] if ids else f"c{i:03d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    mode = "quick" if "--quick" in sys.argv else "full"
    out = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    print(write(os.path.join(out, "dask_pipeline.ipynb"), dask_cells(mode), IDS))
