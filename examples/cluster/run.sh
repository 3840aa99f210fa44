#!/usr/bin/env bash
# A local three-broker Jocko cluster, for trying replication and failover.
#
#   examples/cluster/run.sh            (or: make cluster)
#
# Broker 1 listens on 127.0.0.1:9092 and starts the cluster; brokers 2 and
# 3 (127.0.0.1:9192 and :9292) join it through its gossip port (9094) and
# get their IDs from it. Each broker's Raft port is its Kafka port + 1 and
# its gossip port + 2. Data and logs go to examples/cluster/data; run it
# again and the same cluster comes back. Ctrl-C stops the brokers with a
# controlled shutdown.
#
# Environment: BASE_PORT (9092), DATA (examples/cluster/data), JOCKO (a
# jocko binary; default: build one into bin/).
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE_PORT=${BASE_PORT:-9092}
DATA=${DATA:-examples/cluster/data}
JOCKO=${JOCKO:-}
if [ -z "$JOCKO" ]; then
	mkdir -p bin
	CGO_ENABLED=0 go build -o bin/jocko ./cmd/jocko
	JOCKO=bin/jocko
fi
mkdir -p "$DATA"

pids=()
stop() {
	trap - EXIT INT TERM
	if [ ${#pids[@]} -gt 0 ]; then
		echo "stopping brokers (controlled shutdown)..."
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}
trap stop EXIT
trap 'exit 130' INT TERM

brokers=""
for i in 1 2 3; do
	port=$((BASE_PORT + 100 * (i - 1)))
	log="$DATA/broker$i.log"
	args=(broker --listen "127.0.0.1:$port" --data-dir "$DATA/broker$i")
	if [ "$i" -gt 1 ]; then
		args+=(--join "127.0.0.1:$((BASE_PORT + 2))")
	fi
	: >"$log"
	"$JOCKO" "${args[@]}" >>"$log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 300); do
		grep -q "broker ready" "$log" && break
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "broker $i exited; its log ($log):" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.1
	done
	grep -q "broker ready" "$log" || { echo "broker $i not ready after 30s; see $log" >&2; exit 1; }
	brokers="$brokers${brokers:+,}127.0.0.1:$port"
done

cat <<MSG
Jocko cluster of three brokers is up: $brokers
Logs: $DATA/broker{1,2,3}.log

Try:
  kcat -b 127.0.0.1:$BASE_PORT -L
  $JOCKO topic create demo --partitions 3 --brokers $brokers
  seq 1 100 | kcat -b 127.0.0.1:$BASE_PORT -P -t demo -X acks=all
  kcat -b 127.0.0.1:$((BASE_PORT + 100)) -C -t demo -e
  $JOCKO cluster describe --brokers $brokers

Ctrl-C stops the cluster.
MSG
wait
