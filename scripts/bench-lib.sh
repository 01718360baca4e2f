# Shared helpers of scripts/bench.sh and scripts/bench-postgres.sh; source it.
# It needs ROOT (the repository) and WORK (a scratch directory) to be set.

# build_binaries builds the static aggregator and loadgen binaries into $WORK.
build_binaries() {
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/aggregator" ./cmd/aggregator)
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/loadgen" ./cmd/loadgen)
}

# now_ns prints the wall clock in nanoseconds.
now_ns() { date +%s%N; }

# wait_for_line FILE PATTERN PID: wait until FILE has a line matching the
# extended regex PATTERN, failing if PID exits first or after 60 s.
wait_for_line() {
	local file=$1 pattern=$2 pid=$3 i
	for ((i = 0; i < 12000; i++)); do
		if grep -Eq "$pattern" "$file" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "process $pid exited; its log:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.005
	done
	echo "timed out waiting for /$pattern/ in $file" >&2
	return 1
}

# wait_healthy URL PID: poll URL/healthz until it answers 200.
wait_healthy() {
	local url=$1 pid=$2 i
	for ((i = 0; i < 12000; i++)); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" 2>/dev/null) == 200 ]]; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "process $pid exited before $url/healthz answered" >&2
			return 1
		fi
		sleep 0.005
	done
	echo "timed out waiting for $url/healthz" >&2
	return 1
}

# start_server DATA_DIR LOG: start the aggregator on a free loopback port
# with duplicate logging off and the extra flags in SERVER_FLAGS (an array).
# Sets SERVER_PID, SERVER_URL and SERVER_STARTUP_MS (exec to the first 200
# from /healthz).
start_server() {
	local data=$1 log=$2 began addr
	began=$(now_ns)
	"$WORK/aggregator" -addr 127.0.0.1:0 -data-dir "$data" -log-duplicates off -log-format text \
		${SERVER_FLAGS[@]+"${SERVER_FLAGS[@]}"} >"$log" 2>&1 &
	SERVER_PID=$!
	STARTED_PIDS+=("$SERVER_PID")
	wait_for_line "$log" 'msg=listening' "$SERVER_PID"
	addr=$(sed -n 's/.*msg=listening.* addr=\([^ ]*\).*/\1/p' "$log" | head -n1)
	SERVER_URL="http://$addr"
	wait_healthy "$SERVER_URL" "$SERVER_PID"
	SERVER_STARTUP_MS=$(( ($(now_ns) - began) / 1000000 ))
}

# start_empty LOG: start `loadgen -serve-empty` on a free loopback port.
# Sets EMPTY_PID and EMPTY_URL.
start_empty() {
	local log=$1
	"$WORK/loadgen" -serve-empty 127.0.0.1:0 >"$log" 2>&1 &
	EMPTY_PID=$!
	STARTED_PIDS+=("$EMPTY_PID")
	wait_for_line "$log" 'serving an empty' "$EMPTY_PID"
	EMPTY_URL=$(sed -n 's/.* on \(http:[^ ]*\).*/\1/p' "$log" | head -n1)
	wait_healthy "$EMPTY_URL" "$EMPTY_PID"
}

# stop_pid PID: SIGTERM one process this script started and wait for it.
stop_pid() {
	local pid=$1
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
	fi
}

# stop_started: stop every process the script started (the EXIT trap).
stop_started() {
	local pid
	for pid in "${STARTED_PIDS[@]}"; do
		stop_pid "$pid"
	done
}

STARTED_PIDS=()
SERVER_FLAGS=()
