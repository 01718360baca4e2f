#!/usr/bin/env bash
# bench-postgres.sh: measure PostgreSQL ingest on this machine and print a
# markdown section to stdout (progress goes to stderr).
#
#   scripts/bench-postgres.sh > bench-postgres.md
#
# It compares the raw INSERT ... ON CONFLICT DO NOTHING in batches of 1000
# (one pgx connection, two statement forms) with the repository's Append and
# with the real service (server binaries, POST /publish with batches of 1000
# over HTTP), each on a fresh database in a throwaway cluster with fsync and
# synchronous_commit on (adapters/postgres/pgtest). Set
# AGGREGATOR_TEST_POSTGRES_DSN to use an existing server instead.
#
#   BENCH_EVENTS  events per measurement (default 50000)
#   BENCH_RUNS    rounds of all measurements; the table shows the median (default 5)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=${BENCH_EVENTS:-50000}
RUNS=${BENCH_RUNS:-5}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Rounds interleave the measurements, so that a burst of load from
# elsewhere hits all of them alike; -p 1 keeps the two packages from
# running at the same time.
for ((round = 1; round <= RUNS; round++)); do
	echo "round $round of $RUNS ($EVENTS events per measurement)..." >&2
	(
		cd "$ROOT"
		AGGREGATOR_BENCH_EVENTS=$EVENTS \
			go test -p 1 -count=1 -run '^$' -bench '^Benchmark(Insert|Service)$' -benchtime 1x -timeout 30m ./adapters/postgres/ ./tests/replicas/
	) >>"$OUT" 2>&1 || {
		cat "$OUT" >&2
		echo "benchmarks failed" >&2
		exit 1
	}
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

pg_bin=${AGGREGATOR_TEST_POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [[ -n ${AGGREGATOR_TEST_POSTGRES_DSN:-} ]]; then
	pg_version="external server ($(psql "$AGGREGATOR_TEST_POSTGRES_DSN" -Atc 'SHOW server_version' 2>/dev/null || echo unknown))"
else
	pg_version="$("$pg_bin/postgres" --version), throwaway cluster in ${TMPDIR:-/tmp} ($(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'))"
fi

# median NAME: the median rate of the BENCH lines named NAME.
median() {
	grep "^BENCH $1 " "$OUT" | sed 's/.*rate=//' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'
}
# runs NAME: every rate of NAME, in run order.
runs() {
	grep "^BENCH $1 " "$OUT" | sed 's/.*rate=//' | paste -sd' ' | sed 's/ /, /g'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

raw_values=$(median raw_insert_values_1conn_batch1000)
raw_unnest=$(median raw_insert_unnest_1conn_batch1000)

cat <<EOF
## PostgreSQL ingest benchmark

Run on $(date -u '+%Y-%m-%d %H:%M UTC') with \`scripts/bench-postgres.sh\` (BENCH_EVENTS=$EVENTS, BENCH_RUNS=$RUNS).

| | |
|---|---|
| Machine | $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM |
| Load average (1, 5, 15 min) | before: $load_before; after: $load_after |
| PostgreSQL | $pg_version; fsync=on, synchronous_commit=on |
| Go | $(cd "$ROOT" && go version | cut -d' ' -f3-) |

The machine is shared with other engineers' builds and tests (2 cores), so
the numbers are noisy: rerun before drawing fine conclusions. PostgreSQL,
the servers and the load generators all share the same 2 cores.

Every row writes $EVENTS new events of about 100 bytes of payload in 10
topics, in batches of 1000, into a fresh database; each batch commits on its
own (one durable commit per batch, or per group commit in the service).

| Measurement | Median events/s | Runs (events/s) | vs raw VALUES | vs raw unnest |
|---|---:|---|---:|---:|
EOF
for name in \
	raw_insert_values_1conn_batch1000 \
	raw_insert_unnest_1conn_batch1000 \
	append_1writer_batch1000 \
	append_3writers_ordered_batch1000 \
	service_1replica_4clients_batch1000 \
	service_3replicas_6clients_batch1000 \
	service_memory_1replica_4clients_batch1000; do
	m=$(median "$name")
	printf '| `%s` | %s | %s | %s | %s |\n' "$name" "$m" "$(runs "$name")" "$(ratio "$m" "$raw_values")" "$(ratio "$m" "$raw_unnest")"
done

cat <<EOF

- \`raw_insert_values\`: one pgx connection, \`INSERT ... VALUES (...) x1000 ON CONFLICT (topic, event_id) DO NOTHING\`
  with 7000 bind parameters, autocommit.
- \`raw_insert_unnest\`: the same rows as seven array parameters through \`unnest\`, autocommit.
- \`append_*\`: \`postgres.Repository.Append\` (insert with RETURNING, lookup of existing keys, topic counters,
  the seq-order advisory lock), one transaction per batch; 3 writers have a pool each, like 3 replicas.
- \`service_*\`: the server binary with AGGREGATOR_STORE=postgres; HTTP clients (in the test process) POST
  pre-encoded batches of 1000 to \`/publish\` until all are acknowledged (202, durable).
  \`service_memory\` is the same against AGGREGATOR_STORE=memory: the HTTP and app layers alone, whose CPU
  the PostgreSQL-backed service has to share with PostgreSQL on these 2 cores.

Service (one replica) against the raw inserts: **$(ratio "$(median service_1replica_4clients_batch1000)" "$raw_values")x** of raw VALUES,
**$(ratio "$(median service_1replica_4clients_batch1000)" "$raw_unnest")x** of raw unnest (target: at least 0.8x).
Three replicas: $(ratio "$(median service_3replicas_6clients_batch1000)" "$raw_values")x and $(ratio "$(median service_3replicas_6clients_batch1000)" "$raw_unnest")x.
Append alone: $(ratio "$(median append_1writer_batch1000)" "$raw_values")x and $(ratio "$(median append_1writer_batch1000)" "$raw_unnest")x.
EOF
