#!/bin/bash
# run_kill.sh MPIEXEC NP KILL_PROGRAM CHECK_PROGRAM MODE [SHIM]
# One rank of an MPI job is killed mid-checkpoint: mpirun must fail (Open MPI
# aborts the job); then the store, checked by a program without MPI, must
# hold no partial checkpoint, verify, and take a new writer.
set -u
mpiexec=$1 np=$2 kill_prog=$3 check_prog=$4 mode=$5 shim=${6:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/nbr-mpi-kill-XXXXXX")
trap 'rm -rf "$work"' EXIT
store="$work/store"
if [ -n "$shim" ]; then
  # Only into the ranks (-x), not into mpirun itself.
  timeout 60 "$mpiexec" -np "$np" -x "LD_PRELOAD=$shim" "$kill_prog" "$store" "$mode" \
    >"$work/mpirun.log" 2>&1
else
  timeout 60 "$mpiexec" -np "$np" "$kill_prog" "$store" "$mode" >"$work/mpirun.log" 2>&1
fi
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
  echo "mpirun exited $rc: expected the job to abort after a rank was killed"
  cat "$work/mpirun.log"
  exit 1
fi
if ! grep -q "signal 9" "$work/mpirun.log"; then
  echo "mpirun failed ($rc) but not because a rank was killed:"
  cat "$work/mpirun.log"
  exit 1
fi
echo "mpirun failed as expected ($rc): $(grep -m1 'signal 9' "$work/mpirun.log")"
"$check_prog" "$store" "$np"
