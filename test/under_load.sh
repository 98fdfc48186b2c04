#!/usr/bin/env bash
# The test suite under load: `npm run test:load [-- N [VITEST-ARGS...]]` (default N = 5;
# arguments after N go to `vitest run`, e.g. a test file to repeat alone).
#
# Builds and type-checks once (as `npm test` does), then runs the whole vitest suite N times
# in a row with a busy loop on every core of the machine alongside (`nproc` shell loops that
# never sleep), and prints one line per run and a final count:
#
#   run 1/5: passed (261 tests, 231 s)
#   run 2/5: FAILED (1 of 261 failed, 295 s): test/run.test.ts > the hot path ... (log: ...)
#   ...
#   4 passed, 1 failed
#
# Exit status: 0 when every run passed, 1 when any failed, 2 on a bad argument; 130/143 when
# interrupted. The busy loops are killed on every exit, Ctrl-C included. Each run's vitest
# output is kept in a temporary directory, named on the line of a failed run.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
shift $(($# > 0 ? 1 : 0))
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "test:load: '$runs' is not a number of runs; expected a positive integer (npm run test:load -- 3)" >&2
  exit 2
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/rxsmp-load.XXXXXX")
busy=()
suite=
# Run a command in its own session, in the background, and wait for it: `wait` returns at
# once on a signal, so Ctrl-C runs the trap now, and the trap stops the whole command.
stoppable() {
  setsid "$@" &
  suite=$!
  wait "$suite"
  local status=$?
  suite=
  return $status
}
# Stop what this script started, by process id: the running command (its session: the
# whole npm or vitest tree goes with it) and the busy loops.
stop_all() {
  if [[ -n $suite ]]; then
    kill -TERM -- "-$suite" 2>/dev/null
    wait "$suite" 2>/dev/null
  fi
  suite=
  if ((${#busy[@]})); then
    kill "${busy[@]}" 2>/dev/null
    wait "${busy[@]}" 2>/dev/null
  fi
  busy=()
}
trap stop_all EXIT
trap 'stop_all; echo "interrupted"; exit 130' INT
trap 'stop_all; echo "terminated"; exit 143' TERM

stoppable npm run --silent build || exit 1
stoppable npm run --silent typecheck || exit 1

cores=$(nproc)
for ((i = 0; i < cores; i++)); do
  sh -c 'while :; do :; done' &
  busy+=($!)
done
echo "test:load: $runs runs of the suite, with $cores busy loops alongside (one per core); logs in $logs"

passed=0
failed=0
for ((run = 1; run <= runs; run++)); do
  report="$logs/run$run.json"
  log="$logs/run$run.log"
  t0=$SECONDS
  stoppable npx vitest run --outputFile.json="$report" "$@" >"$log" 2>&1
  status=$?
  secs=$((SECONDS - t0))
  # One line from vitest's JSON report: counts, and the full names of the failed tests.
  summary=$(node -e '
const fs = require("fs");
const [file, status, secs] = process.argv.slice(1);
let r;
try { r = JSON.parse(fs.readFileSync(file, "utf8")); } catch { r = null; }
if (r === null) { console.log(`FAILED (no report: vitest exited ${status}, ${secs} s)`); process.exit(1); }
const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => `${f.name.replace(process.cwd() + "/", "")} > ${a.fullName}`));
const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed")).map((f) => `${f.name.replace(process.cwd() + "/", "")} (${(f.message || "failed").split("\n")[0]})`);
if (status === "0" && r.success) { console.log(`passed (${r.numPassedTests} tests, ${secs} s)`); process.exit(0); }
const names = [...failed, ...broken];
console.log(`FAILED (${r.numFailedTests} of ${r.numTotalTests} failed, ${secs} s): ${names.join("; ") || `vitest exited ${status}`}`);
process.exit(1);
' "$report" "$status" "$secs")
  if [[ $? -eq 0 ]]; then
    passed=$((passed + 1))
    echo "run $run/$runs: $summary"
  else
    failed=$((failed + 1))
    echo "run $run/$runs: $summary (log: $log)"
  fi
done

stop_all
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
