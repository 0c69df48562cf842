"""The `nbrewind` command."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import _core

USAGE = """\
usage: nbrewind [--version] [--help] <command> [<args>]

Audit a notebook (checkpoint every cell's state and record what it did):
   audit            run a notebook top to bottom under the audit kernel
   sync             copy the store's records into the notebook's metadata
   install-kernels  install the "nbrewind audit/repeat (Python 3)" kernels

Re-execute only what an edit affects:
   repeat           restore what is still valid, re-run only the cells an edit affects
   verify           re-run audited cells from restored inputs; compare with the record

Look at what was recorded:
   log              one line per execution: cell, time, names, bytes, status
   show             a variable's value after a cell
   du               how much of the store each variable and cell uses

Look after the store:
   fsck             re-hash everything, name what is damaged
   gc               remove checkpoints the notebook no longer references

Share with another site:
   pack             one file with the notebook and what its record references
   unpack           extract a pack; show how its environment differs from this one
   trust            allow the pickles of an unpacked store to be loaded

The store of NB.ipynb is NB.nbrewind/ next to it, unless --store or
$NBREWIND_STORE says otherwise.  'nbrewind <command> --help' describes a command.
Exit codes: 0 success; 1 a cell raised (audit), damage found (fsck) or a
difference found (verify); 2 bad usage or input; 3 the kernel failed;
4 store error; 5 audit incomplete.
"""


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _store_path(args) -> str:
    from .locate import store_for_notebook

    return store_for_notebook(args.notebook, args.store)


def _open_store(args, mode="r"):
    path = _store_path(args)
    if mode == "r" and not os.path.isdir(path):
        raise _core.NotFoundError(f"{args.notebook}: no store at {path} (run `nbrewind audit` "
                                  f"first, or give --store)")
    return _core.Store(path, mode)


def _runs(args, store):
    from .history import executions

    return executions(store, os.path.abspath(args.notebook), with_stats=True)


# ---- commands -----------------------------------------------------------------

def cmd_audit(args):
    from .runner import audit_notebook

    summary = audit_notebook(args.notebook, args.output, args.store, args.timeout,
                             progress=not args.quiet)
    target = args.output or args.notebook
    if summary["missing"]:
        print(f"nbrewind audit: {target}: {len(summary['missing'])} code cell(s) have no "
              f"record (see the warnings in their outputs): {', '.join(summary['missing'])}",
              file=sys.stderr)
        return 5
    print(f"{target}: {summary['matched']} cells audited, last checkpoint "
          f"{summary['checkpoint']}")
    return 0


def cmd_repeat(args):
    from .repeat import repeat_notebook

    result = repeat_notebook(args.notebook, args.output, args.store, dry_run=args.dry_run,
                             timeout=args.timeout)
    if args.dry_run:
        return 0
    rows = {r["cell"]: r for r in result["rows"]}
    for cell_id in result["ran"]:
        why = "; ".join(rows[cell_id]["why"]) or "an input changed"
        print(f"re-ran {rows[cell_id]['position']:>3} {cell_id}: {why}")
    kept = len(result["rows"]) - len(result["ran"])
    print(f"{args.output or args.notebook}: {len(result['ran'])} cells re-ran, {kept} kept; "
          f"{result['seconds']:.2f} s (a full run took {result['full_seconds']:.2f} s "
          f"in the audit)")
    return 0


def cmd_verify(args):
    from .verify import verify_notebook

    verdicts = verify_notebook(args.notebook, args.rerun, args.sample, args.store,
                               args.timeout)
    for v in verdicts:
        print(f"{v.position:>4} {v.cell:<14} {v.status}"
              + (": " + "; ".join(v.details) if v.details else ""))
    bad = [v for v in verdicts if v.status in ("differs", "nondeterministic")]
    print(f"{args.notebook}: {len(verdicts)} cells checked, {len(bad)} with differences")
    return 1 if bad else 0


def cmd_sync(args):
    from . import notebook as nbfile

    nb = nbfile.read(args.notebook)
    summary = nbfile.sync(nb, os.path.abspath(args.notebook), _store_path(args))
    nbfile.write(nb, args.notebook)
    print(f"{args.notebook}: {summary['matched']} cells have a record, "
          f"{len(summary['missing'])} have none")
    return 0


def cmd_pack(args):
    from .pack import pack

    pack(args.notebook, args.output, args.store, args.exclude or ())
    return 0


def cmd_unpack(args):
    from .pack import unpack

    unpack(args.pack, args.directory, force=args.force)
    return 0


def cmd_trust(args):
    from .trust import trust

    path = _store_path(args)
    if not os.path.isdir(path):
        raise _core.NotFoundError(f"{args.notebook}: no store at {path}")
    trust(path)
    print(f"{path}: trusted (its pickled values will be loaded)")
    return 0


def cmd_install_kernels(args):
    from .kernelspec import install

    prefix = sys.prefix if args.sys_prefix else args.prefix
    for where in install(user=not args.sys_prefix and args.prefix is None, prefix=prefix):
        print(f"installed {where}")
    return 0


def _names(mapping) -> str:
    from . import serialize

    names = [n for n in mapping
             if not serialize.is_part_name(n) and not n.startswith("@output:")]
    return ",".join(names) or "-"


def cmd_log(args):
    with _open_store(args) as store:
        runs = _runs(args, store)
    if args.json:
        json.dump([{"position": i + 1, "checkpoint": r.checkpoint, "committed": r.committed,
                    "logical_bytes": r.logical_bytes, "stored_bytes": r.stored_bytes,
                    "record": r.record.as_dict()} for i, r in enumerate(runs)],
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"{'#':>4} {'cell':<12} {'started':<24} {'secs':>7} {'status':<6} "
          f"{'logical':>10} {'stored':>10}  reads -> writes")
    for i, run in enumerate(runs):
        rec = run.record
        print(f"{i + 1:>4} {rec.cell_id[:12]:<12} {rec.started:<24} "
              f"{(rec.duration or 0):>7.3f} {rec.status:<6} {_bytes(run.logical_bytes):>10} "
              f"{_bytes(run.stored_bytes):>10}  {_names(rec.reads)} -> "
              f"{_names({**rec.writes, **rec.recompute})}"
              + (f" (deleted {','.join(rec.deletes)})" if rec.deletes else ""))
    return 0


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _pick_run(runs, cell):
    """--cell K: a position in `nbrewind log` (1-based) or a cell id (its
    latest execution); none: the latest execution."""
    if not runs:
        raise _core.NotFoundError("no audited execution in this store")
    if cell is None:
        return runs[-1]
    if cell.isdigit():
        k = int(cell)
        if not 1 <= k <= len(runs):
            raise UsageError(f"--cell {k}: the log has executions 1 to {len(runs)}")
        return runs[k - 1]
    matches = [r for r in runs if r.record.cell_id == cell]
    if not matches:
        raise UsageError(f"--cell {cell}: no execution of a cell with that id")
    return matches[-1]


def cmd_show(args):
    from . import serialize

    with _open_store(args) as store:
        run = _pick_run(_runs(args, store), args.cell)
        reason = run.record.recompute.get(args.name)
        try:
            object_id = store.resolve(args.name, run.checkpoint)
        except _core.NotFoundError:
            raise _core.NotFoundError(f"{args.name}: not bound after execution "
                                      f"{run.checkpoint} (cell {run.record.cell_id})") from None
        if object_id is None:
            why = f" ({reason})" if reason else ""
            print(f"{args.name}: not stored after cell {run.record.cell_id}{why}")
            return 1
        value = serialize.decode(store, object_id)
    if args.out:
        import numpy as np

        np.save(args.out, value, allow_pickle=False)
        print(f"{args.name}: wrote {args.out}")
        return 0
    print(f"{args.name} after cell {run.record.cell_id} (checkpoint {run.checkpoint}, "
          f"object {object_id}):")
    print(_summary(value))
    return 0


def _summary(value) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        head = f"ndarray dtype={value.dtype} shape={value.shape}"
        if value.size and value.dtype.kind in "biuf":
            head += f" min={value.min()} max={value.max()} mean={value.mean():.6g}"
        return head + "\n" + np.array2string(value, threshold=20, edgeitems=3)
    text = repr(value)
    return f"{type(value).__name__}: " + (text if len(text) < 2000 else text[:2000] + " ...")


def cmd_fsck(args):
    with _open_store(args) as store:
        report = store.verify()
        count = len(store.checkpoints())
    if report:
        print(report.rstrip("\n"))
        print(f"nbrewind fsck: {_store_path(args)}: damage found", file=sys.stderr)
        return 1
    print(f"{_store_path(args)}: {count} checkpoints, every object re-hashed: sound")
    return 0


def cmd_gc(args):
    from . import notebook as nbfile

    nb = nbfile.read(args.notebook)
    with _open_store(args, "w") as store:
        nbfile.sync(nb, os.path.abspath(args.notebook), store.path)
        meta = nb.metadata.get(nbfile.METADATA_KEY, {})
        keep = {c["checkpoint"] for c in meta.get("cells", {}).values()}
        if meta.get("store", {}).get("checkpoint"):
            store.set_ref(ref_name(args.notebook), meta["store"]["checkpoint"])
        for checkpoint in sorted(keep):
            store.pin(checkpoint)
        print(store.gc())
    return 0


def ref_name(notebook: str) -> str:
    stem = os.path.splitext(os.path.basename(notebook))[0]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:150]
    return f"notebook-{safe or 'untitled'}"


def cmd_du(args):
    from . import serialize

    with _open_store(args) as store:
        runs = _runs(args, store)
        per_name: dict[str, set] = {}
        for run in runs:
            for name, object_id in run.record.writes.items():
                if name.startswith("@file:"):
                    continue  # a file's content hash: the file is not stored
                owner = serialize.part_owner(name) if serialize.is_part_name(name) else name
                per_name.setdefault(owner, set()).add(object_id)
        sizes = {name: sum(store.object_info(i)["logical_bytes"] for i in ids)
                 for name, ids in per_name.items()}
        total_logical, total_stored = store.stats()
    print("per variable (distinct values kept, logical bytes):")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if not name.startswith("@output:"):
            print(f"  {_bytes(size):>10}  {name} ({len(per_name[name])} values)")
    print("per cell (bytes its executions added: logical / stored):")
    per_cell: dict[str, list] = {}
    for run in runs:
        agg = per_cell.setdefault(run.record.cell_id, [0, 0, 0])
        agg[0] += run.logical_bytes
        agg[1] += run.stored_bytes
        agg[2] += 1
    for cell, (logical, stored, n) in per_cell.items():
        print(f"  {_bytes(logical):>10} / {_bytes(stored):>10}  {cell} ({n} executions)")
    print(f"store total: {_bytes(total_logical)} logical, {_bytes(total_stored)} stored")
    return 0


# ---- parsing --------------------------------------------------------------------

def _parser() -> Parser:
    parser = Parser(prog="nbrewind", add_help=False)
    parser.add_argument("--version", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def with_notebook(p):
        p.add_argument("notebook", metavar="NB.ipynb")
        p.add_argument("--store", metavar="DIR", help="the store (default: NB.nbrewind/ "
                       "next to the notebook, or $NBREWIND_STORE)")
        return p

    p = with_notebook(command("audit", cmd_audit, "Run a notebook top to bottom under the "
                              "audit kernel; write its outputs and record into it."))
    p.add_argument("-o", "--output", metavar="OUT.ipynb", help="write here, not in place")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default none)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p = with_notebook(command("repeat", cmd_repeat, "Restore what is still valid from the "
                              "audit and re-execute only the cells an edit can affect."))
    p.add_argument("-o", "--output", metavar="OUT.ipynb", help="write here, not in place")
    p.add_argument("--dry-run", action="store_true", help="print the plan: which cells run "
                   "and why, what each restores, the estimated time")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default none)")
    p = with_notebook(command("verify", cmd_verify, "Re-execute audited cells twice from "
                              "their restored inputs; report each difference from the record "
                              "and each cell that is not deterministic."))
    what = p.add_mutually_exclusive_group()
    what.add_argument("--rerun", nargs="+", metavar="K", help="cells: positions or ids")
    what.add_argument("--sample", type=int, metavar="N", help="N audited cells at random "
                      "(seeded; default 3)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default none)")
    with_notebook(command("sync", cmd_sync, "Copy the store's latest record of each cell "
                          "into the notebook's metadata (cells matched by id and source)."))
    p = with_notebook(command("log", cmd_log, "One line per audited execution."))
    p.add_argument("--json", action="store_true", help="the records as JSON, for tools")
    p = with_notebook(command("show", cmd_show, "What a variable was after a cell."))
    p.add_argument("name", metavar="NAME")
    p.add_argument("--cell", metavar="K", help="a position in `nbrewind log` or a cell id "
                   "(default: the latest execution)")
    p.add_argument("--out", metavar="F.npy", help="write an array to a .npy file")
    with_notebook(command("fsck", cmd_fsck, "Re-hash the store; name every damaged object. "
                          "Exit 0 only when all is sound."))
    with_notebook(command("gc", cmd_gc, "Keep what the notebook's record references (and "
                          "other notebooks' refs); remove the rest."))
    with_notebook(command("du", cmd_du, "Store use per variable and per cell."))
    p = with_notebook(command("pack", cmd_pack, "Write one file holding the notebook, a "
                              "store of what its record references, and a manifest."))
    p.add_argument("-o", "--output", metavar="NB.nbrw", required=True, help="the pack file")
    p.add_argument("--exclude", metavar="NAME", action="append", help="leave this "
                   "variable's value out (recorded as recompute); may be repeated")
    p = command("unpack", cmd_unpack, "Extract a pack (NB.ipynb and NB.nbrewind/) and show "
                "how its environment differs from this one.  The store is untrusted.")
    p.add_argument("pack", metavar="NB.nbrw")
    p.add_argument("directory", metavar="DIR", nargs="?", default=".",
                   help="where to extract (default: the current directory)")
    p.add_argument("--force", action="store_true", help="overwrite an existing notebook "
                   "and store")
    with_notebook(command("trust", cmd_trust, "Trust the notebook's store: load its pickled "
                          "values (unpickling runs code; only for stores you trust)."))
    p = command("install-kernels", cmd_install_kernels,
                "Install the nbrewind audit and repeat kernelspecs for Jupyter.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user (the default)")
    where.add_argument("--sys-prefix", action="store_true", help="into this Python's prefix "
                       "(a venv)")
    where.add_argument("--prefix", metavar="DIR", help="into DIR/share/jupyter/kernels")
    return parser


def main(argv=None) -> int:
    from .notebook import NotebookError
    from .pack import PackError
    from .runner import AuditFailed
    from .trust import TrustError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            print(f"nbrewind {_core.version()}")
            return 0
        if args.help or not args.command:
            print(USAGE, end="")
            return 0 if args.help else 2
        return args.func(args)
    except UsageError as exc:
        print(f"{exc}\n(see 'nbrewind --help')", file=sys.stderr)
        return 2
    except (NotebookError, PackError, TrustError) as exc:
        print(f"nbrewind: {exc}", file=sys.stderr)
        return 2
    except AuditFailed as exc:
        print(f"nbrewind: {exc}", file=sys.stderr)
        return exc.code
    except _core.Error as exc:
        print(f"nbrewind: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `nbrewind log NB | head`: the reader left; so do we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
