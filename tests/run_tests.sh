#!/usr/bin/env bash
# Runs every GoogleTest binary in DIR (default build/bin/tests), one after
# another, and ends with one line: "tests: N passed, N failed, N skipped".
# Exit status: 0 if nothing failed, 1 otherwise.
# TSLAB_TEST_FILTER (a gtest filter) narrows every binary's run.
set -u
# The suites were written for pages that go back at the recycle (purge
# delay 0, the engine before the purge policy); the purge tests set their
# own delay explicitly. A caller may still choose another default.
export TSLAB_PURGE_DELAY_MS=${TSLAB_PURGE_DELAY_MS-0}
dir=${1:-build/bin/tests}
passed=0 failed=0 skipped=0 broken=()
for t in "$dir"/*_test; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  out=$(mktemp)
  echo "=== $name"
  "$t" --gtest_brief=0 ${TSLAB_TEST_FILTER:+--gtest_filter="$TSLAB_TEST_FILTER"} \
    --gtest_output="json:$out" 2>&1 | grep -E '^\[  (FAILED|SKIPPED|PASSED) |^\[       OK|Failure|Skipped|error' || true
  rc=${PIPESTATUS[0]}
  if [ -s "$out" ]; then
    # First line: the counts; then the failures' messages (the filter
    # above keeps only the "Failure" lines: CI's log needs the rest).
    { read -r p f s; cat; } < <(python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = f = s = 0
msgs = []
for suite in d.get("testsuites", []):
    for t in suite.get("testsuite", []):
        if t.get("failures"):
            f += 1
            for x in t["failures"]:
                lines = x.get("failure", "").splitlines()
                msgs += ["    | " + line[:300] for line in lines[:12]]
        elif t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
            s += 1
        else:
            p += 1
print(p, f, s)
print("\n".join(msgs)) if msgs else None
PY
)
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); broken+=("$name (exit $rc)"); fi
  else
    failed=$((failed + 1)); broken+=("$name (exit $rc, no report)")
  fi
  rm -f "$out"
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "broken: $b"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
