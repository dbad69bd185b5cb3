#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/) and runs each for FUZZ_SECONDS (docs/SECURITY.md).
#
#   scripts/fuzz.sh                     every target, FUZZ_SECONDS each (default 60)
#   scripts/fuzz.sh fuzz-wav fuzz-jwt   only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh    the 10-minute runs recorded in docs/SECURITY.md
#   FUZZ_MERGE=1 scripts/fuzz.sh ...    also merge what each run found into Fuzz/Corpus (minimized)
#   FUZZ_SKIP_BUILD=1 scripts/fuzz.sh   run the targets as last built (e.g. while another build runs)
#
# Each run starts from a copy of the committed seeds (Fuzz/Corpus/<name>) in a temporary
# directory, so the seeds stay as committed unless FUZZ_MERGE=1. Crash, leak and timeout
# inputs go to .build/fuzz-artifacts/<target>/, full logs to .build/fuzz-logs/<target>.log.
# Exits 1 if any target found a crash (or failed to run), after running all of them.
set -euo pipefail

cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MERGE=${FUZZ_MERGE:-0}
# The sanitizer build has its own scratch path: it shares nothing with the main build.
SCRATCH=${FUZZ_SCRATCH:-Fuzz/.build}
ALL_TARGETS=(fuzz-frame-decoder fuzz-connection fuzz-protobuf fuzz-json fuzz-wav fuzz-jwt)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

[ "${FUZZ_SKIP_BUILD:-0}" = 1 ] || echo "fuzz: building ${TARGETS[*]} with -sanitize=fuzzer,address (release; the first build takes a while)"
mkdir -p .build
build_log=.build/fuzz-build.log
: >"$build_log"
for target in "${TARGETS[@]}"; do
    [ "${FUZZ_SKIP_BUILD:-0}" = 1 ] && break
    # One product at a time: only what the requested targets need is built.
    if ! "$SWIFT" build -c release --package-path Fuzz --scratch-path "$SCRATCH" --product "$target" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >>"$build_log" 2>&1; then
        grep -v 'Cannot export local symbol' "$build_log" | tail -n 30 >&2
        echo "fuzz: building $target failed (full log: $build_log)" >&2
        exit 1
    fi
done
BIN=$("$SWIFT" build -c release --package-path Fuzz --scratch-path "$SCRATCH" --show-bin-path)

ARTIFACTS=.build/fuzz-artifacts
LOGS=.build/fuzz-logs
mkdir -p "$ARTIFACTS" "$LOGS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ova-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failed=()
summary=()
for target in "${TARGETS[@]}"; do
    name=${target#fuzz-}
    corpus="$WORK/$name"
    mkdir -p "$corpus" "$ARTIFACTS/$target"
    cp -R "Fuzz/Corpus/$name/." "$corpus/"
    seeds=$(find "$corpus" -type f | wc -l)
    log="$LOGS/$target.log"
    echo "fuzz: $target for ${FUZZ_SECONDS}s from $seeds seeds (log: $log)"
    status=0
    # -timeout: an input that takes longer is a hang (reported like a crash). Every input runs
    # in milliseconds; the margin is for machines shared with builds, where a process can be
    # descheduled for many seconds (20 s gave false timeouts there).
    # -rss_limit_mb: the connection target's property includes bounded memory.
    "$BIN/$target" "$corpus" \
        -max_total_time="$FUZZ_SECONDS" \
        -timeout="${FUZZ_TIMEOUT:-120}" \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$target/" \
        >"$log" 2>&1 || status=$?
    # The last status line: "#<execs> <event> cov: <edges> ft: <features> corp: <n>/<size> ... exec/s: <n>".
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)
    rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' || true)
    corpus_size=$(find "$corpus" -type f | wc -l)
    summary+=("$(printf '%-20s execs=%-10s exec/s=%-7s corpus=%-6s %s' "$target" "${execs:-?}" "${rate:-?}" "$corpus_size" \
        "$(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)")")
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "fuzz: $target FAILED (exit $status); the end of its log:" >&2
        grep -E '^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*Fatal error:|artifact_prefix|Test unit written|MS:)' "$log" | tail -n 8 >&2 || true
        echo "fuzz: reproduce with: $BIN/$target <artifact from $ARTIFACTS/$target/>" >&2
    elif [ "$FUZZ_MERGE" = 1 ]; then
        # Keep the seeds and add the smallest inputs that reach what the run found.
        "$BIN/$target" -merge=1 "Fuzz/Corpus/$name" "$corpus" >>"$log" 2>&1
    fi
done

echo
echo "fuzz: summary (${FUZZ_SECONDS}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes or failures in: ${failed[*]} (inputs in $ARTIFACTS/)" >&2
    exit 1
fi
