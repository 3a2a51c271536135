#!/bin/sh
# Runs every fuzz target (or the ones named) for SECONDS each, one after the
# other, single process. New inputs go to fuzz/work/<target>/ (not
# committed); crashes to fuzz/artifacts/<target>/; logs to fuzz/work/logs/.
#
#   fuzz/run-all.sh SECONDS [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (see README.md).
set -eu
secs=${1:?usage: run-all.sh SECONDS [TARGET...]}
shift
cd "$(dirname "$0")"
# The seed corpus is generated from the captures in the repository.
[ -d corpus ] || python3 seeds.py
toolchain=${FUZZ_TOOLCHAIN:-+nightly}
if [ $# -gt 0 ]; then targets=$*; else targets=$(cargo $toolchain fuzz list); fi
cargo $toolchain fuzz build
mkdir -p work/logs
failed=
for t in $targets; do
    mkdir -p "work/$t"
    log="work/logs/$t.log"
    # -malloc_limit_mb: any single allocation above 64 MiB is a finding
    # (no decoder should allocate that much from a few KiB of input).
    if cargo $toolchain fuzz run "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=64 -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed="$failed $t"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    printf '%-24s %-6s %10s runs  %s\n' "$t" "$status" "${runs:-?}" "$cov"
done
if [ -n "$failed" ]; then
    echo "failed:$failed (see work/logs/ and artifacts/)"
    exit 1
fi
