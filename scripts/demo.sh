#!/usr/bin/env bash
# The whole story on the bundled notebook, for `make demo`: audit, an edit,
# repeat (what re-ran, why, the time saved), pack, then unpack and repeat in
# another directory.  Works on copies in BUILD/demo; examples/ is not touched.
#
#   scripts/demo.sh VENV BUILD
set -euo pipefail
venv=$1 build=$2
nbrewind=$venv/bin/nbrewind python=$venv/bin/python
demo=$build/demo
site=$demo/other-site

step() { printf '\n== %s\n' "$*"; }

# Replace text in one cell of a notebook (by cell id), as a user's edit would.
edit_cell() {
  "$python" - "$@" <<'PY'
import sys, nbformat
path, cell_id, old, new = sys.argv[1:5]
nb = nbformat.read(path, as_version=4)
cell = next(c for c in nb.cells if c.get("id") == cell_id)
assert old in cell.source, (cell_id, old)
cell.source = cell.source.replace(old, new)
nbformat.write(nb, path)
PY
}

rm -rf "$demo" && mkdir -p "$demo" && cp examples/demo.ipynb "$demo/"
# A bigger plate and more steps than the example's defaults, so that the solver
# takes a few seconds and the time a repeat saves is visible.
edit_cell "$demo/demo.ipynb" parameters 'n = 256' 'n = 512'
edit_cell "$demo/demo.ipynb" parameters 'steps = 200' 'steps = 4000'
step "audit: every cell under the audit kernel (a checkpoint and a record per cell)"
"$nbrewind" audit "$demo/demo.ipynb"

step "nbrewind log: what each execution read, wrote and stored"
"$nbrewind" log "$demo/demo.ipynb"

step "nbrewind show: field as it was after the initial condition (execution 4), no kernel"
"$nbrewind" show "$demo/demo.ipynb" field --cell 4

step "edit the plot's title, then repeat: only the plot cell re-runs"
edit_cell "$demo/demo.ipynb" plot 'set_title("initial")' 'set_title("initial field")'
"$nbrewind" repeat "$demo/demo.ipynb" --dry-run
"$nbrewind" repeat "$demo/demo.ipynb"

step "edit a parameter (steps 4000 -> 3000), then repeat: the solver and what reads its result"
edit_cell "$demo/demo.ipynb" parameters 'steps = 4000' 'steps = 3000'
"$nbrewind" repeat "$demo/demo.ipynb"

step "verify: re-run two cells twice from their restored inputs, compare with the record"
"$nbrewind" verify "$demo/demo.ipynb" --rerun initial-field summary

step "pack: one file with the notebook, its store and its record"
"$nbrewind" pack "$demo/demo.ipynb" -o "$demo/demo.nbrw"

step "unpack at another site (another directory), trust it, edit, repeat"
mkdir -p "$site"
"$nbrewind" unpack "$demo/demo.nbrw" "$site"
"$nbrewind" trust "$site/demo.ipynb"
edit_cell "$site/demo.ipynb" summary '"grid": n,' '"grid": n, "site": "other",'
"$nbrewind" repeat "$site/demo.ipynb"

step "fsck and du of the unpacked store"
"$nbrewind" fsck "$site/demo.ipynb"
"$nbrewind" du "$site/demo.ipynb"
