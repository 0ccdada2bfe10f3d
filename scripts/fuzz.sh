#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh manifest delta  # only these targets
#
# Environment:
#   FUZZ_SECONDS    seconds per target (libFuzzer -max_total_time), default 20
#   FUZZ_TOOLCHAIN  toolchain used by cargo fuzz, default nightly
#   FUZZ_ARGS       extra libFuzzer arguments, e.g. "-jobs=2 -workers=2"
#
# Needs a nightly toolchain; installs cargo-fuzz when it is missing. Seeds taken from real
# stores are written into fuzz/corpus/<target>/ before the first run. A crash leaves its
# input in fuzz/artifacts/<target>/ (reproduce with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`); the script then
# exits non-zero after running every target.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
seconds="${FUZZ_SECONDS:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
read -r -a extra <<<"${FUZZ_ARGS:-}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

# The open_file target makes its stores in a temporary directory (on tmpfs when there is
# one: stores sync on every commit): keep them in one place and remove them at the end.
tmp_base="$root/fuzz/target"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    tmp_base=/dev/shm
fi
mkdir -p "$tmp_base" corpus artifacts
TMPDIR="$(mktemp -d "$tmp_base/rvf-fuzz.XXXXXX")"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

cargo "+$toolchain" fuzz build

# Seeds for every target, written by open_file at start-up.
echo "fuzz.sh: writing seed corpora"
RVF_FUZZ_SEED_DIR="$root/fuzz/corpus" \
    cargo "+$toolchain" fuzz run open_file -- -runs=0 >/dev/null 2>&1 || true

summary=()
failed=()
for t in "${targets[@]}"; do
    echo "=== $t: ${seconds}s"
    log="$root/fuzz/artifacts/$t.log"
    mkdir -p "corpus/$t"
    status=0
    # A hang is an input that runs past the timeout. The decoders answer in
    # microseconds; one input of the store fuzzer is up to 200 operations on a family
    # of stores (graph builds of up to 20,000 vectors under instrumentation included),
    # which takes seconds.
    timeout=10
    [ "$t" = store_ops ] && timeout=60
    cargo "+$toolchain" fuzz run "$t" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
        "${extra[@]}" >"$log" 2>&1 || status=$?
    # Executions: libFuzzer's final stats, or (with -fork) the last progress line.
    execs="$(awk '/stat::number_of_executed_units/ {s += $2}
        /^#[0-9]+:/ {n = substr($1, 2) + 0; if (n > m) m = n}
        END {print (s > 0 ? s : m + 0)}' "$log")"
    cov="$(awk '/cov: [0-9]+/ {for (i = 1; i < NF; i++) if ($i == "cov:") c = $(i + 1)} END {print c}' "$log")"
    if [ "$status" -eq 0 ]; then
        summary+=("$t: ok, ${execs} execs, coverage ${cov:-?}")
    else
        failed+=("$t")
        summary+=("$t: FAILED (exit $status), ${execs} execs; log $log")
        grep -h -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to|^error' "$log" | head -5 || true
    fi
done

echo
echo "fuzz.sh summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)"
    exit 1
fi
