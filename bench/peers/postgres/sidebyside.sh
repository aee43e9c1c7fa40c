#!/usr/bin/env bash
# sidebyside.sh: jetflow bench and peerpostgres, alternated scenario by
# scenario in one time window, RUNS times, then a table of medians and
# per-run ratios (summarize.py).
#
#   JETFLOW_SRC=/path/to/jetflow ./sidebyside.sh      # builds cmd/jetflow
#   JETFLOW=/path/to/jetflow-binary ./sidebyside.sh   # or uses a binary
#
# RUNS (3), DURATION (3s, passed to both as --duration), SCENARIOS (all
# five) and OUT (a new temporary directory) may be set. Odd runs start each scenario with
# jetflow, even runs with PostgreSQL, so neither always runs first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-append append-concurrent append-batch append-batch-concurrent load}
DURATION=${DURATION:-3s}
OUT=${OUT:-$(mktemp -d /tmp/peerpostgres-sbs-XXXXXX)}
mkdir -p "$OUT"
if [ -z "${JETFLOW:-}" ]; then
	if [ -z "${JETFLOW_SRC:-}" ]; then
		echo "set JETFLOW_SRC (a jetflow checkout) or JETFLOW (a jetflow binary)" >&2
		exit 2
	fi
	(cd "$JETFLOW_SRC" && go build -o "$OUT/jetflow" ./cmd/jetflow)
	JETFLOW=$OUT/jetflow
fi
(cd "$here" && go build -o "$OUT/peerpostgres" .)
echo "# results in $OUT" >&2

jet() { "$JETFLOW" bench --scenario "$1" --json --duration "$DURATION" >>"$OUT/jetflow_$2.jsonl"; }
pg() { "$OUT/peerpostgres" -scenario "$1" -json -duration "$DURATION" >>"$OUT/postgres_$2.jsonl" 2>>"$OUT/postgres_$2.err"; }

for run in $(seq 1 "$RUNS"); do
	for sc in $SCENARIOS; do
		echo "# run $run: $sc" >&2
		if [ $((run % 2)) -eq 1 ]; then
			jet "$sc" "$run"
			pg "$sc" "$run"
		else
			pg "$sc" "$run"
			jet "$sc" "$run"
		fi
	done
done
python3 "$here/summarize.py" "$OUT"
