#!/usr/bin/env bash
# A real Kafka broker for the tests: one combined broker/controller in KRaft mode, from Maven
# Central jars (test/jvm/kafka-pom.xml) and plain `java`, on loopback.
#
#   bash test/services/kafka.sh up|down|env|status
# (`bash test/services.sh kafka-up|kafka-down|kafka-env|kafka-status` run these.)
#
# Settings (env vars, defaults in brackets):
#   KAFKA_TEST_PORT [19092]  KAFKA_TEST_CONTROLLER_PORT [19093]
#   KAFKA_TEST_DIR [<project>/.services/kafka]  (its config, log dirs, logs, pid)
#   KAFKA_TEST_TIMEOUT [60]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=common.sh
source "$ROOT/test/services/common.sh"

POM="$ROOT/test/jvm/kafka-pom.xml"
JARS="$ROOT/.services/kafka-jars"
PORT="${KAFKA_TEST_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_TEST_CONTROLLER_PORT:-19093}"
DIR="${KAFKA_TEST_DIR:-$ROOT/.services/kafka}"
TIMEOUT="${KAFKA_TEST_TIMEOUT:-60}"
RUN_DIR="$DIR/run"
LOG_DIR="$DIR/log"
TAG="kafka:$DIR"
KAFKA_VERSION="$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$POM")"

write_config() {
  mkdir -p "$DIR/data" "$RUN_DIR" "$LOG_DIR"
  cat >"$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/data
num.partitions=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  cat >"$DIR/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
PROPS
}

JAVA_OPTS=(-Xmx512m -Xms128m "-Dlog4j.configuration=file:$DIR/log4j.properties")

format_storage() {
  [[ -f "$DIR/data/meta.properties" ]] && return 0
  local uuid
  uuid="$(java "${JAVA_OPTS[@]}" -cp "$JARS/*" kafka.tools.StorageTool random-uuid 2>"$LOG_DIR/storage.log" | tail -n 1)" ||
    die "kafka StorageTool random-uuid failed" "$LOG_DIR/storage.log"
  java "${JAVA_OPTS[@]}" -cp "$JARS/*" kafka.tools.StorageTool format -t "$uuid" -c "$DIR/server.properties" \
    >>"$LOG_DIR/storage.log" 2>&1 || die "kafka StorageTool format failed" "$LOG_DIR/storage.log"
}

broker_listens() {
  [[ -n "$(running broker "$TAG")" ]] || die "the Kafka broker exited" "$LOG_DIR/broker.log"
  port_in_use "$PORT" && grep -q 'Kafka Server started\|Transition from STARTING to STARTED' "$LOG_DIR/broker.log"
}

up() {
  local t0
  t0="$(now)"
  need_java
  fetch_jars "$POM" "$JARS"
  if [[ -z "$(running broker "$TAG")" ]]; then
    port_in_use "$PORT" && die "port $PORT (KAFKA_TEST_PORT) is taken by another process"
    port_in_use "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT (KAFKA_TEST_CONTROLLER_PORT) is taken by another process"
    write_config
    format_storage
    : >"$LOG_DIR/broker.log"
    spawn broker "$TAG" java "${JAVA_OPTS[@]}" "-Dlogwise.tag=$TAG" -cp "$JARS/*" kafka.Kafka "$DIR/server.properties"
  fi
  wait_until "$TIMEOUT" broker broker_listens || die "the Kafka broker does not answer on 127.0.0.1:$PORT after ${TIMEOUT} s" "$LOG_DIR/broker.log"
  log "kafka: broker $KAFKA_VERSION (KRaft) at 127.0.0.1:$PORT; ready in $(elapsed_since "$t0") s"
}

down() {
  stop broker "$TAG"
  log "kafka: stopped ($DIR)"
}

status() {
  local pid
  pid="$(running broker "$TAG")"
  if [[ -n "$pid" ]]; then log "kafka broker: running (pid $pid) at 127.0.0.1:$PORT"; else log "kafka broker: down"; fi
}

print_env() {
  cat <<ENV
KAFKA_TEST_BOOTSTRAP=127.0.0.1:$PORT
KAFKA_TEST_HOST=127.0.0.1
KAFKA_TEST_PORT=$PORT
KAFKA_TEST_VERSION=$KAFKA_VERSION
KAFKA_TEST_DIR=$DIR
ENV
}

[[ $# -eq 1 ]] || { err "usage: bash test/services/kafka.sh up|down|env|status"; exit 2; }
lock_dir "$DIR"
case "$1" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  status) status ;;
  *) err "usage: bash test/services/kafka.sh up|down|env|status"; exit 2 ;;
esac
