#!/usr/bin/env bash
# run_fuzz.sh FUZZER SOURCE_DIR BINARY_DIR SECONDS
#
# A bounded libFuzzer run for ctest: copies the seed corpus and the saved crash
# reproducers into BINARY_DIR/corpus (libFuzzer adds the inputs it finds there;
# the source tree is never written), then fuzzes for SECONDS.  Fails if
# libFuzzer finds a crash, a leak, undefined behaviour, a broken API promise,
# an input slower than 10 s or one that needs more than 2 GiB; the input is
# left in BINARY_DIR/artifacts/ (copy it into tests/fuzz/crashes/).
set -euo pipefail
fuzzer=$1 src=$2 bin=$3 seconds=$4

corpus=$bin/corpus artifacts=$bin/artifacts
rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts"
cp "$src"/corpus/* "$corpus"/
# Reproducers seed the run too (dot-files such as .gitkeep are not inputs).
find "$src/crashes" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus"/ \;

echo "fuzz_analysis: $(find "$corpus" -type f | wc -l) seed inputs, ${seconds}s"
status=0
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -timeout=10 -max_len=4096 -dict="$src/analysis.dict" \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" 2>"$bin/fuzz.log" || status=$?
# libFuzzer's report is long; show its verdict and, on failure, the report.
grep -E '^(#[0-9]+ *DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|INFO: seed corpus)' \
  "$bin/fuzz.log" || true
if ((status != 0)); then
  tail -n 80 "$bin/fuzz.log"
  echo "fuzz_analysis: FAILED (exit $status); reproducer(s) in $artifacts:"
  ls "$artifacts"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
