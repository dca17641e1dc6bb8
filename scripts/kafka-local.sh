#!/usr/bin/env bash
# A standalone real Kafka broker (KRaft, combined broker and controller) from Kafka's own Maven
# artifacts, without Docker: for users and the demo.
#   scripts/kafka-local.sh start|stop|status
# Environment: KAFKA_LOCAL_DIR (default .retain/kafka), KAFKA_PORT (default 9092).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir="${KAFKA_LOCAL_DIR:-$root/.retain/kafka}"
port="${KAFKA_PORT:-9092}"
pidfile="$dir/kafka.pid"
props="$dir/server.properties"
cp_="$jar:$root/target/lib/*"

running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

write_properties() {
  mkdir -p "$dir/data"
  cat > "$props" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$((port + 1))
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=16777216
PROPS
}

start() {
  if running; then echo "kafka already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return; fi
  ensure_built
  write_properties
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    id=$(java -cp "$cp_" kafka.tools.StorageTool random-uuid)
    java -cp "$cp_" kafka.tools.StorageTool format -t "$id" -c "$props" --standalone >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; exit 1; }
  fi
  nohup java -Xmx1g -cp "$cp_" -Dlog4j2.level=WARN kafka.Kafka "$props" >"$dir/kafka.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "kafka started (pid $(cat "$pidfile")) on 127.0.0.1:$port; data in $dir/data"
      return
    fi
    running || { echo "kafka failed to start; see $dir/kafka.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "kafka did not open port $port in 60 s; see $dir/kafka.log" >&2
  exit 1
}

stop() {
  if ! running; then echo "kafka not running"; rm -f "$pidfile"; return; fi
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  rm -f "$pidfile"
  echo "kafka stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "kafka running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; else echo "kafka not running"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
