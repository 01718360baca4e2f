#!/usr/bin/env bash
# Benchmarks the aggregator with cmd/loadgen and writes BENCHMARKS.md.
#
# Each scenario runs against a fresh server (static build, fresh temp data
# directory, duplicate logging off) on 127.0.0.1:
#   a. batches of 500, concurrency 4, 20% duplicates, UUIDv4 ids: events/s
#      while the store fills up to BENCH_N1 unique events, then while it
#      grows from BENCH_N1 to BENCH_N2; the server's peak RSS throughout.
#   a'. the first phase of (a) with UUIDv7 ids, to show what random keys cost.
#   b. one event per request, concurrency 32: the aggregator against
#      `loadgen -serve-empty`, the bare net/http baseline.
#   c. on the store of (a): GET /events?limit=1000 at several depths, GET
#      /stats, and server startup time on that store.
#   a0. the first phase of (a) on the release before the dedup index.
#   l. storage layouts without HTTP (BenchmarkLayouts), among them the naive
#      raw-SQLite baseline, in the same run.
# Every number in BENCHMARKS.md comes from loadgen's -json reports, curl's
# timings, the scripts' own clocks or CPU profiles taken from the server
# (-pprof-addr); the raw reports go to bench-out/. The explanation of the
# results, which holds no numbers, is scripts/bench-analysis.md.
#
# Environment (defaults in brackets):
#   BENCH_N1 [1000000]      unique events stored by the first phase of (a)
#   BENCH_N2 [10000000]     unique events stored at the end of (a)
#   BENCH_NB [200000]       events sent in each run of (b)
#   BENCH_READ_REPS [20]    timed repetitions of each read in (c)
#   BENCH_STARTS [3]        timed server starts in (c)
#   BENCH_STEP [1000000]    unique events per run of the second phase of (a):
#                           one row of the growth table each
#   BENCH_LAYOUT_N [1000000] events sent to each storage layout in (l)
#   BENCH_BEFORE [2634b94^] the release to compare with in (a0): a git
#                           revision, built from a clean export
#   BENCH_VERIFY [true]     let loadgen list and check every stored event
#   BENCH_SERVER_FLAGS []   extra server flags, e.g. "-sqlite-synchronous normal"
#   BENCH_OUT [BENCHMARKS.md at the repository root]
#   BENCH_RAW [bench-out/ at the repository root]  raw reports and logs
#   TMPDIR [/tmp]           where the data directories go (scenario a at 10M
#                           events needs about 4 GB)
#
# A smoke run that takes about a minute:
#   BENCH_N1=50000 BENCH_N2=100000 BENCH_NB=20000 BENCH_READ_REPS=5 BENCH_STARTS=1 \
#     BENCH_OUT=/tmp/BENCHMARKS.md BENCH_RAW=/tmp/bench-raw scripts/bench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N1=${BENCH_N1:-1000000}
N2=${BENCH_N2:-10000000}
NB=${BENCH_NB:-200000}
READ_REPS=${BENCH_READ_REPS:-20}
STARTS=${BENCH_STARTS:-3}
VERIFY=${BENCH_VERIFY:-true}
STEP=${BENCH_STEP:-1000000}
LAYOUT_N=${BENCH_LAYOUT_N:-1000000}
BEFORE=${BENCH_BEFORE:-2634b94^}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
RAW=${BENCH_RAW:-$ROOT/bench-out}
DUP=0.2

if ((N1 < 1000 || N2 <= N1 || NB < 1)); then
	echo "need 1000 <= BENCH_N1 < BENCH_N2 and BENCH_NB >= 1" >&2
	exit 2
fi
for tool in curl jq awk go; do
	command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/uts-bench.XXXXXX")
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
cleanup() {
	stop_started
	rm -rf "$WORK"
}
trap cleanup EXIT
read -r -a SERVER_FLAGS <<<"${BENCH_SERVER_FLAGS:-}"
mkdir -p "$RAW"
rm -f "$RAW"/*.json "$RAW"/*.log "$RAW"/*.txt

log() { echo "bench: $*" >&2; }

# events_for UNIQUE: how many events to send, 20% of them resends, so that
# UNIQUE of them are new.
events_for() { awk -v u="$1" -v d="$DUP" 'BEGIN { printf "%d", u / (1 - d) + 0.5 }'; }

# loadgen NAME ARGS...: run loadgen with -json, keep its report as NAME.json.
loadgen() {
	local name=$1
	shift
	log "loadgen $name: $*"
	if ! "$WORK/loadgen" -json -progress lines "$@" >"$RAW/$name.json" 2>"$RAW/$name.log"; then
		cat "$RAW/$name.log" >&2
		echo "bench: loadgen $name failed" >&2
		exit 1
	fi
}

# field NAME JQ: read a value from report NAME.
field() { jq -r "$2" "$RAW/$1.json"; }
fmt0() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
fmt2() { printf "%.2f" "$1"; }


# rss_sampler PID FILE: append "ms rss_kib" to FILE every 200 ms while PID lives.
rss_sampler() {
	local pid=$1 file=$2 rss
	while rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [[ -n $rss ]]; do
		echo "$(($(now_ns) / 1000000)) $rss" >>"$file"
		sleep 0.2
	done
}

max_rss_mib() { awk '$2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$1"; }

# time_get URL REPS: set TIME_MEDIAN and TIME_MAX to the median and the max
# of curl's time_total over REPS GETs of URL, in milliseconds; fail unless
# every answer is 200.
time_get() {
	local url=$1 reps=$2 i out
	: >"$WORK/times"
	for ((i = 0; i < reps; i++)); do
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$url")
		if [[ ${out%% *} != 200 ]]; then
			echo "bench: GET $url answered ${out%% *}" >&2
			exit 1
		fi
		echo "${out#* }" >>"$WORK/times"
	done
	read -r TIME_MEDIAN TIME_MAX < <(sort -g "$WORK/times" |
		awk '{ t[NR] = $1 * 1000 } END { printf "%.2f %.2f\n", t[int((NR + 1) / 2)], t[NR] }')
}

# profile NAME SECONDS: in the background, take a CPU profile of the running
# server (started with -pprof-addr $PPROF_ADDR) for SECONDS into NAME.prof.
profile() {
	curl -s -o "$RAW/$1.prof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$2" &
	PROFILE_PID=$!
}

# profile_top NAME: wait for the profile and print its hottest functions.
profile_top() {
	wait "$PROFILE_PID" || true
	go tool pprof -top -nodecount=22 "$WORK/aggregator" "$RAW/$1.prof" 2>/dev/null | sed -n '/^Showing nodes/,$p' >"$RAW/$1-top.txt"
}

log "building static binaries"
build_binaries
PPROF_ADDR=127.0.0.1:$((20000 + RANDOM % 20000))
BASE_FLAGS=(${SERVER_FLAGS[@]+"${SERVER_FLAGS[@]}"})
SERVER_FLAGS=(${BASE_FLAGS[@]+"${BASE_FLAGS[@]}"} -pprof-addr "$PPROF_ADDR")

# --- a. bulk ingest into an empty store, then on to N2 ---------------------
log "scenario a: batch 500, concurrency 4, ${N1} then ${N2} unique events"
start_server "$WORK/data-a" "$RAW/server-a.log"
: >"$WORK/rss-a"
rss_sampler "$SERVER_PID" "$WORK/rss-a" &
SAMPLER_PID=$!
STARTED_PIDS+=("$SAMPLER_PID")
bulk=(-url "$SERVER_URL" -batch 500 -concurrency 4 -duplicates "$DUP" -ids uuidv4 -verify="$VERIFY")
loadgen a1 "${bulk[@]}" -events "$(events_for "$N1")"
rss_a1=$(max_rss_mib "$WORK/rss-a")
# The second phase in runs of STEP unique events: one row of the growth
# table each. The profile is taken during the run that starts at 8M stored
# (or the last run, on smaller sizes).
growth=()
a2_sent=0
a2_secs=0
prof_run=$(((8000000 - N1) / STEP))
runs=$(((N2 - N1 + STEP - 1) / STEP))
((prof_run >= 0 && prof_run < runs)) || prof_run=$((runs - 1))
for ((i = 0; i < runs; i++)); do
	from=$((N1 + i * STEP))
	to=$((from + STEP < N2 ? from + STEP : N2))
	((i == prof_run)) && profile a2 30
	loadgen "a2-$i" "${bulk[@]}" -events "$(events_for $((to - from)))"
	((i == prof_run)) && profile_top a2 && rate_8m=$(field "a2-$i" .events_per_second) && from_8m=$from
	growth+=("| $(fmt0 "$from") → $(fmt0 "$to") | $(fmt0 "$(field "a2-$i" .events_per_second)") | $(fmt2 "$(field "a2-$i" .latency_p99_ms)") | $(fmt2 "$(field "a2-$i" .latency_max_ms)") |")
	a2_sent=$((a2_sent + $(field "a2-$i" .events_sent)))
	a2_secs=$(awk -v a="$a2_secs" -v b="$(field "a2-$i" .elapsed_seconds)" 'BEGIN { print a + b }')
done
a2_rate=$(awk -v n="$a2_sent" -v s="$a2_secs" 'BEGIN { printf "%.0f", n / s }')
rss_a=$(max_rss_mib "$WORK/rss-a")

# --- c. reads and startup on the store of (a) -------------------------------
log "scenario c: reads and startup on the store of (a)"
curl -sf "$SERVER_URL/stats" >"$RAW/c-stats.json"
stored=$(jq -r '.stored_events' "$RAW/c-stats.json")
topic=$(field "a2-$((runs - 1))" '.topic_prefix')-0
reads=()
for spec in \
	"after=0 (first page)|after=0" \
	"after=$((stored / 2)) (middle)|after=$((stored / 2))" \
	"after=$((stored - 1000)) (last page)|after=$((stored - 1000))" \
	"topic=$topic, after=$((stored / 2))|topic=$topic&after=$((stored / 2))"; do
	time_get "$SERVER_URL/events?limit=1000&${spec#*|}" "$READ_REPS"
	reads+=("| \`GET /events?limit=1000\` ${spec%%|*} | $TIME_MEDIAN | $TIME_MAX |")
done
time_get "$SERVER_URL/stats" "$READ_REPS"
reads+=("| \`GET /stats\` | $TIME_MEDIAN | $TIME_MAX |")
store_mib=$(du -sm "$WORK/data-a" | awk '{ print $1 }')
stop_pid "$SERVER_PID"
stop_pid "$SAMPLER_PID"
starts=()
for ((i = 0; i < STARTS; i++)); do
	start_server "$WORK/data-a" "$RAW/server-c-$i.log"
	starts+=("$SERVER_STARTUP_MS")
	stop_pid "$SERVER_PID"
done
startup_ms=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')

# --- a'. the first phase of (a) with time-ordered ids, for comparison -------
log "scenario a': as the first phase of (a), with UUIDv7 ids"
start_server "$WORK/data-a7" "$RAW/server-a7.log"
loadgen a7 -url "$SERVER_URL" -batch 500 -concurrency 4 -duplicates "$DUP" -ids uuidv7 -verify="$VERIFY" -events "$(events_for "$N1")"
stop_pid "$SERVER_PID"
rm -rf "$WORK/data-a7"

# --- a0. the first phase of (a) on the release before the dedup index -------
log "scenario a0: as the first phase of (a), on $BEFORE"
mkdir -p "$WORK/before"
(cd "$ROOT" && git archive "$BEFORE") | tar -x -C "$WORK/before"
(cd "$WORK/before" && CGO_ENABLED=0 go build -o "$WORK/aggregator-before" ./cmd/aggregator)
before_rev=$(cd "$ROOT" && git rev-parse --short "$BEFORE")
current_bin=$WORK/aggregator
cp "$WORK/aggregator-before" "$WORK/aggregator-run"
mv "$WORK/aggregator" "$WORK/aggregator-current"
mv "$WORK/aggregator-run" "$WORK/aggregator"
start_server "$WORK/data-a0" "$RAW/server-a0.log"
loadgen a0 -url "$SERVER_URL" -batch 500 -concurrency 4 -duplicates "$DUP" -ids uuidv4 -verify="$VERIFY" -events "$(events_for "$N1")"
stop_pid "$SERVER_PID"
mv "$WORK/aggregator-current" "$current_bin"
rm -rf "$WORK/data-a0" "$WORK/before"

# --- l. storage layouts without HTTP, the naive baseline among them ----------
log "scenario l: storage layouts, ${LAYOUT_N} events each"
(cd "$ROOT" && BENCH_LAYOUT_N=$LAYOUT_N go test -run '^$' -bench '^BenchmarkLayouts$' -benchtime 1x -timeout 60m \
	./adapters/sqlite/) >"$RAW/layouts.txt"
# layout NAME METRIC: a metric of one layout from the benchmark output.
layout() {
	awk -v n="BenchmarkLayouts/$1-" -v m="$2" 'index($1, n) == 1 { for (i = 2; i < NF; i++) if ($(i + 1) == m) print $i }' "$RAW/layouts.txt"
}
layouts=()
for l in naive unique-index hash-keys-per-commit dedup-index; do
	layouts+=("| $l | $(fmt0 "$(layout "$l" events/s)") | $(fmt0 "$(layout "$l" events/s-last-fifth)") |")
done
naive=$(layout naive events/s)
merge_p99=$(layout dedup-index p99-ms-merging)
idle_p99=$(layout dedup-index p99-ms-not-merging)
merge_ratio=$(awk -v a="${merge_p99:-0}" -v b="${idle_p99:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')

# --- the disk's fsync latency, which bounds one event per request ------------
# 200 synchronous 8 KiB writes (O_DSYNC, as a WAL commit of a few pages).
fsync_ms=$(dd if=/dev/zero of="$WORK/fsync-probe" bs=8k count=200 oflag=dsync 2>&1 |
	awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) { printf "%.2f", $(i - 1) * 1000 / 200; exit } }')
rm -f "$WORK/fsync-probe"
fsync_bound=$(awk -v ms="$fsync_ms" 'BEGIN { if (ms > 0) printf "%.0f", 32 * 1000 / ms; else print "n/a" }')

# --- b. one event per request: aggregator vs empty net/http handler ---------
log "scenario b: one event per request, concurrency 32, ${NB} events"
start_server "$WORK/data-b" "$RAW/server-b.log"
single=(-batch 1 -concurrency 32 -duplicates "$DUP" -ids uuidv4 -events "$NB")
profile b-aggregator 10
loadgen b-aggregator -url "$SERVER_URL" "${single[@]}" -verify="$VERIFY"
profile_top b-aggregator
stop_pid "$SERVER_PID"
start_empty "$RAW/empty.log"
loadgen b-empty -url "$EMPTY_URL" "${single[@]}" -verify=false
stop_pid "$EMPTY_PID"

# --- BENCHMARKS.md -----------------------------------------------------------
log "writing $OUT"
page_worst=$(printf '%s\n' "${reads[@]:0:4}" | awk -F'|' '{ gsub(/ /, "", $3); if ($3 + 0 > m) m = $3 + 0 } END { printf "%.2f", m }')
stats_ms=$(printf '%s\n' "${reads[4]}" | awk -F'|' '{ gsub(/ /, "", $3); printf "%.2f", $3 }')
# target GOAL MEASURED HIGHER_IS_BETTER: "met" or how far off, as a factor.
target() {
	awk -v g="$1" -v m="$2" -v up="$3" 'BEGIN {
		ok = up ? m >= g : m <= g
		if (ok) { print "met" } else { printf "missed: %.2fx of the goal\n", up ? m / g : g / m }
	}'
}
row() { # NAME LABEL: one results row from report NAME
	echo "| $2 | $(fmt0 "$(field "$1" .events_sent)") | $(fmt0 "$(field "$1" .unique_events)") | $(fmt2 "$(field "$1" .elapsed_seconds)") | **$(fmt0 "$(field "$1" .events_per_second)")** | $(fmt0 "$(field "$1" .requests_per_second)") | $(fmt2 "$(field "$1" .latency_p50_ms)") | $(fmt2 "$(field "$1" .latency_p99_ms)") | $(fmt2 "$(field "$1" .latency_max_ms)") |"
}
ratio=$(awk -v a="$(field b-aggregator .events_per_second)" -v e="$(field b-empty .events_per_second)" 'BEGIN { printf "%.2f", a / e }')
commit=$(cd "$ROOT" && git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(cd "$ROOT" && GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	commit="$commit (with uncommitted changes)"
fi
# The server's default, from its own help text, unless the flags override it.
synchronous=$({ "$WORK/aggregator" serve -h 2>&1 || true; } |
	awk '/-sqlite-synchronous/ { on = 1; next } on && match($0, /default "[a-z]+"/) { print substr($0, RSTART + 9, RLENGTH - 10); exit }')
for ((i = 0; i < ${#BASE_FLAGS[@]}; i++)); do
	case ${BASE_FLAGS[i]} in
	-sqlite-synchronous | --sqlite-synchronous) synchronous=${BASE_FLAGS[i + 1]:-} ;;
	-sqlite-synchronous=* | --sqlite-synchronous=*) synchronous=${BASE_FLAGS[i]#*=} ;;
	esac
done
server_cmd="aggregator -log-duplicates off${BASE_FLAGS[*]+ ${BASE_FLAGS[*]}}"
smoke=""
if [[ -n ${BENCH_N1:-}${BENCH_N2:-}${BENCH_NB:-} ]]; then
	smoke="> Sizes differ from the defaults (N1=1,000,000, N2=10,000,000, NB=200,000): treat this as a smoke run, not as the reference numbers."
fi
checks="the 202 answers and the per-topic counters of \`GET /stats\`"
if [[ $VERIFY == true ]]; then
	checks="the 202 answers, the per-topic counters of \`GET /stats\` and every stored event through \`GET /events\`"
fi
{
	cat <<EOF
# Benchmarks

Produced by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); every number below comes from that run.

${smoke}

## Machine

| | |
|---|---|
| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |
| Cores (nproc) | $(nproc) |
| Kernel | $(uname -sr) |
| Go | $(go version | awk '{ print $3, $4 }') |
| Commit | $commit |

\`\`\`
$ free -g
$(free -g)
\`\`\`

## Setup

Static server binary (\`CGO_ENABLED=0\`, pure-Go SQLite store, SQLite \`synchronous=${synchronous}\`), started as
\`${server_cmd}\` with a fresh data directory in \`${TMPDIR:-/tmp}\` per scenario;
client and server on the same machine over 127.0.0.1. Load from \`cmd/loadgen\`; ~100-byte payloads, 10 topics, 20% of the sent events are
byte-identical resends of earlier ones. events/s counts sent events (resends included) per second of wall time.
After each aggregator run loadgen checked ${checks} (not timed).

## Results

### a. Bulk ingest: batches of 500, concurrency 4, UUIDv4

| Phase | Events sent | Unique stored | Seconds | Events/s | Requests/s | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row a1 "empty store → $(fmt0 "$(field a1 .unique_events)") stored")

Second phase, $(fmt0 "$(field a1 .unique_events)") → $(fmt0 "$stored") stored, in runs of $(fmt0 "$STEP") unique events
(each run its own loadgen, same server): **$(fmt0 "$a2_rate") events/s** over the phase ($(fmt0 "$a2_sent") events in
$(fmt2 "$a2_secs") s). Growth table, rate per run:

| Stored before → after the run (unique) | Events/s | p99 ms | max ms |
|---|---:|---:|---:|
$(printf '%s\n' "${growth[@]}")

Rate with $(fmt0 "$from_8m") stored / rate on the empty store (first phase): **$(awk -v a="$rate_8m" -v b="$(field a1 .events_per_second)" 'BEGIN { printf "%.2f", a / b }')**.

Server peak RSS (VmRSS, sampled every 200 ms): **${rss_a1} MiB** up to the end of the first phase, **${rss_a} MiB** over the
whole scenario (verification included). Store on disk at the end: ${store_mib} MiB.

### a0. Before and after: the first phase of (a) on the previous release

The release before the SQLite dedup index (\`${before_rev}\`, unique index on \`(topic, event_id)\`), same workload, same
machine, same run:

| Release | Events sent | Unique stored | Seconds | Events/s | Requests/s | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row a0 "before (\`${before_rev}\`)")
$(row a1 "this commit")

After / before: **$(awk -v a="$(field a1 .events_per_second)" -v b="$(field a0 .events_per_second)" 'BEGIN { printf "%.2f", a / b }')**.

### l. Storage layouts without HTTP, and the naive raw-SQLite baseline

\`BenchmarkLayouts\` (adapters/sqlite): $(fmt0 "$LAYOUT_N") events sent to each layout, UUIDv4 ids, 10 topics, ~100-byte payloads,
20% resends of a random earlier event, 1,000 events per transaction, WAL, \`synchronous=FULL\`, one process, no HTTP.

| Layout | Events/s | Events/s over the last fifth |
|---|---:|---:|
$(printf '%s\n' "${layouts[@]}")

- naive: one table with \`UNIQUE (topic, event_id)\` and \`INSERT OR IGNORE\`, no outcomes or counters: the simplest
  correct raw-SQLite program, the baseline of the 5x target;
- unique-index: the previous release's schema and statements;
- hash-keys-per-commit: the current adapter with a merge at every commit, i.e. 64-bit hash keys written to
  \`dedup_keys\` per commit with nothing kept in memory;
- dedup-index: the current adapter as shipped.

Service (a, first phase, HTTP included) / naive raw SQLite: **$(awk -v a="$(field a1 .events_per_second)" -v b="$naive" 'BEGIN { printf "%.2f", a / b }')**.

Commit time of the dedup-index layout, p99: **${merge_p99:-n/a} ms** for commits that carried a merge step,
**${idle_p99:-n/a} ms** for the others (ratio ${merge_ratio}).

### b. One event per request, concurrency 32

| Target | Events sent | Unique | Seconds | Events/s | Requests/s | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row b-aggregator "aggregator (SQLite)")
$(row b-empty "\`loadgen -serve-empty\` (bare net/http)")

Aggregator / bare net/http throughput: **${ratio}**.

The disk's latency of one synchronous 8 KiB write (\`dd oflag=dsync\`, 200 writes) in this run: **${fsync_ms} ms**. A
publish is answered only after the commit holding it reached the disk, and each of the 32 clients has one request in
flight, so one event per request cannot exceed about 32 / ${fsync_ms} ms = **$(fmt0 "$fsync_bound") events/s** on this disk,
whatever the server does between two commits.

### a'. The first phase of (a) with time-ordered UUIDv7 ids

| Phase | Events sent | Unique stored | Seconds | Events/s | Requests/s | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row a7 "empty store → $(fmt0 "$(field a7 .unique_events)") stored, UUIDv7")

### c. Reads and startup on the store of (a) ($(fmt0 "$stored") events)

Timed client-side with \`curl -w %{time_total}\` over loopback (the server does not time requests itself), ${READ_REPS}
requests each, one at a time, on the idle server.

| Request | median ms | max ms |
|---|---:|---:|
$(printf '%s\n' "${reads[@]}")

Server startup on that store, from exec to the first 200 from \`/healthz\`: **${startup_ms} ms** (median of ${STARTS}:
$(printf '%s ms, ' "${starts[@]}" | sed 's/, $//')).

## Targets

| Target | Goal | Measured | |
|---|---:|---:|---|
| (a) bulk ingest, first phase, events/s | 100,000 | $(fmt0 "$(field a1 .events_per_second)") | $(target 100000 "$(field a1 .events_per_second)" 1) |
| (a) bulk ingest, first phase / naive raw SQLite | 5.00 | $(awk -v a="$(field a1 .events_per_second)" -v b="$naive" 'BEGIN { printf "%.2f", a / b }') | $(target 5 "$(awk -v a="$(field a1 .events_per_second)" -v b="$naive" 'BEGIN { printf "%.4f", a / b }')" 1) |
| (a) bulk ingest, second phase, events/s | 50,000 | $(fmt0 "$a2_rate") | $(target 50000 "$a2_rate" 1) |
| (a) rate with 8M stored / rate on the empty store | 0.70 | $(awk -v a="$rate_8m" -v b="$(field a1 .events_per_second)" 'BEGIN { printf "%.2f", a / b }') | $(target 0.7 "$(awk -v a="$rate_8m" -v b="$(field a1 .events_per_second)" 'BEGIN { printf "%.4f", a / b }')" 1) |
| (l) commit p99 during a merge / outside one | 2.00 | ${merge_ratio} | $( [[ $merge_ratio == n/a ]] && echo "no merge ran" || target 2 "$merge_ratio" 0) |
| (b) one event per request, aggregator / bare net/http | 0.80 | ${ratio} | $(target 0.8 "$ratio" 1) |
| (b) one event per request, p99 ms | 10 | $(fmt2 "$(field b-aggregator .latency_p99_ms)") | $(target 10 "$(field b-aggregator .latency_p99_ms)" 0) |
| (a) peak RSS, MiB | 200 | ${rss_a} | $(target 200 "$rss_a" 0) |
| (c) a page of 1000 events, worst median ms (client side) | 10 | ${page_worst} | $(target 10 "$page_worst" 0) |
| (c) \`GET /stats\`, median ms (client side) | 1 | ${stats_ms} | $(target 1 "$stats_ms" 0) |
| (c) startup on the big store, ms | 1,000 | ${startup_ms} | $(target 1000 "$startup_ms" 0) |

## Where the time goes

CPU profiles of the server, taken with \`-pprof-addr\` during the runs above (hottest functions, flat and cumulative).

During the second phase of (a), 30 s of the run from $(fmt0 "$from_8m") stored:

\`\`\`
$(cat "$RAW/a2-top.txt")
\`\`\`

During (b), 10 s:

\`\`\`
$(cat "$RAW/b-aggregator-top.txt")
\`\`\`

$(cat "$ROOT/scripts/bench-analysis.md")

## Raw reports

\`\`\`
EOF
	for name in a0 a1 $(for ((i = 0; i < runs; i++)); do echo "a2-$i"; done) a7 b-aggregator b-empty; do
		echo "$name: $(jq -c 'del(.problems)' "$RAW/$name.json")"
	done
	echo '```'
} >"$OUT"
log "done: $OUT (raw reports in $RAW)"
