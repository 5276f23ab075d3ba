#!/usr/bin/env bash
# A real Spark standalone cluster for the tests, from Maven Central jars and plain `java`, on
# loopback: one Master with the REST submission server on, one Worker sized for a 2-core
# machine, and the test application (test/jvm/app) compiled against the same jars.
#
#   bash test/services/spark.sh up      start what is not running (idempotent)
#   bash test/services/spark.sh down    stop the worker, the masters, ZooKeeper
#   bash test/services/spark.sh env     KEY=value lines to point a daemon or a test at it
#   bash test/services/spark.sh status  what runs
#   bash test/services/spark.sh build   only fetch the jars and compile the test application
# (`bash test/services.sh spark-up|spark-down|spark-env|spark-status` run these.)
#
# Facts this relies on (read in Spark 3.5's source, checked here):
# - the worker launches drivers through the launcher module, which needs SPARK_SCALA_VERSION
#   when SPARK_HOME is not a distribution ("Cannot find any build directories" otherwise);
# - the REST server strips SPARK_LOCAL_IP/SPARK_LOCAL_HOSTNAME from a request's environment,
#   so the worker carries SPARK_LOCAL_IP for its drivers;
# - the master refuses the REST server together with spark.authenticate.secret;
# - a Java 17 driver that creates a SparkContext needs --add-opens flags (SPARK_TEST_DRIVER_JAVA_OPTIONS).
#
# Settings (env vars, defaults in brackets):
#   SPARK_TEST_MASTER_HOST [127.0.0.1]  SPARK_TEST_PORT [17077]  SPARK_TEST_UI_PORT [18080]
#   SPARK_TEST_REST_PORT [16066]        SPARK_TEST_WORKER_UI_PORT [18081]
#   SPARK_TEST_WORKER_CORES [2]         SPARK_TEST_WORKER_MEMORY [3g] (what the worker offers)
#   SPARK_TEST_REST_ENABLED [true]      false starts the master without its REST server
#   SPARK_TEST_SHUFFLE_SERVICE [true]   the worker's external shuffle service (port 7337; the
#                                       orchestrator submits with spark.shuffle.service.enabled)
#   SPARK_TEST_HA [0]                   1: ZooKeeper recovery and a second master in STANDBY on
#                                       SPARK_TEST_STANDBY_PORT [port+1], SPARK_TEST_STANDBY_UI_PORT
#                                       [ui+2], SPARK_TEST_STANDBY_REST_PORT [rest+1]; ZooKeeper
#                                       on SPARK_TEST_ZK_PORT [12181]
#   SPARK_TEST_DIR [<project>/.services/spark]  this cluster's conf, logs, pids, driver work dirs
#   SPARK_TEST_TIMEOUT [90]             seconds to wait for the cluster
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=common.sh
source "$ROOT/test/services/common.sh"

POM="$ROOT/test/jvm/spark-pom.xml"
APP_SRC="$ROOT/test/jvm/app"
JARS="$ROOT/.services/spark-jars"          # shared by every test cluster (read only)
APP_DIR="$ROOT/.services/spark-app"
APP_JAR="$APP_DIR/logwise-test-app.jar"

HOST="${SPARK_TEST_MASTER_HOST:-127.0.0.1}"
PORT="${SPARK_TEST_PORT:-17077}"
UI_PORT="${SPARK_TEST_UI_PORT:-18080}"
REST_PORT="${SPARK_TEST_REST_PORT:-16066}"
WORKER_UI_PORT="${SPARK_TEST_WORKER_UI_PORT:-18081}"
WORKER_CORES="${SPARK_TEST_WORKER_CORES:-2}"
WORKER_MEMORY="${SPARK_TEST_WORKER_MEMORY:-3g}"
REST_ENABLED="${SPARK_TEST_REST_ENABLED:-true}"
SHUFFLE_SERVICE="${SPARK_TEST_SHUFFLE_SERVICE:-true}"
HA="${SPARK_TEST_HA:-0}"
STANDBY_PORT="${SPARK_TEST_STANDBY_PORT:-$((PORT + 1))}"
STANDBY_UI_PORT="${SPARK_TEST_STANDBY_UI_PORT:-$((UI_PORT + 2))}"
STANDBY_REST_PORT="${SPARK_TEST_STANDBY_REST_PORT:-$((REST_PORT + 1))}"
ZK_PORT="${SPARK_TEST_ZK_PORT:-12181}"
DIR="${SPARK_TEST_DIR:-$ROOT/.services/spark}"
TIMEOUT="${SPARK_TEST_TIMEOUT:-90}"

SPARK_HOME="$DIR/home"
RUN_DIR="$DIR/run"
LOG_DIR="$DIR/log"
WORK_DIR="$DIR/work"
SCALA_BINARY="$(sed -n 's#.*<scala.binary.version>\(.*\)</scala.binary.version>.*#\1#p' "$POM")"
SPARK_VERSION="$(sed -n 's#.*<spark.version>\(.*\)</spark.version>.*#\1#p' "$POM")"
TAG="spark:$DIR" # marks this cluster's JVMs (-Dlogwise.tag=…:master) so a stale pid is never ours

# The module flags Spark's own build gives Java 17 (JavaModuleOptions); 3.5's REST server does
# not add them to a driver's command, and a SparkContext fails without them.
DRIVER_JAVA_OPTIONS="-XX:+IgnoreUnrecognizedVMOptions --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED"

# ---------------------------------------------------------------- build

build_app() {
  local stamp="$APP_DIR/.src.sha256" want
  want="$( (cat "$POM"; find "$APP_SRC" -name '*.java' -print0 | sort -z | xargs -0 cat) | sha256sum | cut -d' ' -f1)"
  if [[ -f "$APP_JAR" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  need_java
  rm -rf "$APP_DIR/classes"
  mkdir -p "$APP_DIR/classes"
  find "$APP_SRC" -name '*.java' >"$APP_DIR/sources.txt"
  javac -nowarn -encoding UTF-8 --release 17 -d "$APP_DIR/classes" -cp "$JARS/*" @"$APP_DIR/sources.txt" \
    >"$APP_DIR/javac.log" 2>&1 || die "the test Spark application does not compile" "$APP_DIR/javac.log"
  jar cf "$APP_JAR.tmp" -C "$APP_DIR/classes" . || die "jar failed"
  mv "$APP_JAR.tmp" "$APP_JAR"
  echo "$want" >"$stamp"
  log "spark: test application built: $APP_JAR"
}

build() {
  need_java
  fetch_jars "$POM" "$JARS"
  build_app
}

layout_home() {
  mkdir -p "$SPARK_HOME/conf" "$RUN_DIR" "$LOG_DIR" "$WORK_DIR"
  ln -sfn "$JARS" "$SPARK_HOME/jars"
  # Spark logs INFO to stderr without a config; drivers read this one too (conf/ is on their
  # class path), which keeps their logs to what a test reads.
  cat >"$SPARK_HOME/conf/log4j2.properties" <<'LOG4J'
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss.SSS} %p %c{1}: %m%n%ex
logger.deploy.name = org.apache.spark.deploy
logger.deploy.level = info
logger.streaming.name = org.apache.spark.sql.execution.streaming.MicroBatchExecution
logger.streaming.level = info
LOG4J
  : >"$SPARK_HOME/conf/spark-defaults.conf"
  # Hadoop settings of the cluster, read by drivers and executors from the class path. Ceph RGW
  # rejects the v1 AWS SDK's SigV4 PUT of an empty object over plain HTTP
  # (XAmzContentSHA256Mismatch on `logs/_spark_metadata`); SigV2 works.
  cat >"$SPARK_HOME/conf/core-site.xml" <<'XML'
<?xml version="1.0"?>
<configuration>
  <property><name>fs.s3a.signing-algorithm</name><value>S3SignerType</value></property>
</configuration>
XML
}

# ---------------------------------------------------------------- processes

JVM_ENV=(env "SPARK_HOME=$SPARK_HOME" "SPARK_CONF_DIR=$SPARK_HOME/conf" "SPARK_SCALA_VERSION=$SCALA_BINARY"
  "SPARK_LOCAL_IP=$HOST" "SPARK_LOCAL_HOSTNAME=$HOST")

master_json() {
  # master_json UI_PORT: the master's /json/ document, or nothing
  curl -fsS --max-time 2 "http://$HOST:$1/json/" 2>/dev/null || true
}
master_status() { master_json "$1" | sed -n 's/^  "status" : "\([A-Z_]*\)".*/\1/p'; }
alive_workers() { master_json "$1" | sed -n 's/^  "aliveworkers" : \([0-9]*\).*/\1/p'; }
# each check also gives up at once when the process it waits for has exited
still_running() { [[ -n "$(running "$1" "$TAG:$1")" ]] || die "the Spark $1 exited" "$LOG_DIR/$1.log"; }
is_status() { still_running "$1"; [[ "$(master_status "$2")" == "$3" ]]; }
has_worker() { still_running worker; [[ "$(alive_workers "$1")" == 1 ]]; }
listens() { still_running "$1"; port_in_use "$2"; }

ha_props() {
  if [[ "$HA" == 1 ]]; then
    printf '%s\n' -Dspark.deploy.recoveryMode=ZOOKEEPER "-Dspark.deploy.zookeeper.url=$HOST:$ZK_PORT" \
      "-Dspark.deploy.zookeeper.dir=/spark-$UI_PORT"
  fi
}

start_zookeeper() {
  [[ "$HA" == 1 ]] || return 0
  [[ -n "$(running zookeeper "$TAG:zookeeper")" ]] && return 0
  port_in_use "$ZK_PORT" && die "port $ZK_PORT (SPARK_TEST_ZK_PORT) is taken by another process"
  rm -rf "$DIR/zookeeper"
  mkdir -p "$DIR/zookeeper"
  # ZooKeeper from Spark's own jars; its admin server would take port 8080.
  spawn zookeeper "$TAG:zookeeper" java -Xmx128m "-Dlogwise.tag=$TAG:zookeeper" -Dzookeeper.admin.enableServer=false \
    -cp "$SPARK_HOME/conf:$JARS/*" org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_PORT" "$DIR/zookeeper"
  wait_until "$TIMEOUT" zookeeper listens zookeeper "$ZK_PORT" || die "ZooKeeper does not listen on $ZK_PORT" "$LOG_DIR/zookeeper.log"
}

# start_master NAME PORT UI_PORT REST_PORT
start_master() {
  local name="$1" port="$2" ui="$3" rest="$4"
  [[ -n "$(running "$name" "$TAG:$name")" ]] && return 0
  local p
  for p in "$port" "$ui" "$rest"; do
    port_in_use "$p" && die "port $p for the Spark $name is taken by another process (set SPARK_TEST_PORT, SPARK_TEST_UI_PORT, SPARK_TEST_REST_PORT)"
  done
  local props=()
  mapfile -t props < <(ha_props)
  spawn "$name" "$TAG:$name" "${JVM_ENV[@]}" java -Xmx256m "-Dlogwise.tag=$TAG:$name" \
    "-Dspark.master.rest.enabled=$REST_ENABLED" "-Dspark.master.rest.port=$rest" \
    -Dspark.worker.timeout=10 "${props[@]}" \
    -cp "$SPARK_HOME/conf:$JARS/*" org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$port" --webui-port "$ui"
}

start_worker() {
  [[ -n "$(running worker "$TAG:worker")" ]] && return 0
  port_in_use "$WORKER_UI_PORT" && die "port $WORKER_UI_PORT for the Spark worker UI is taken (set SPARK_TEST_WORKER_UI_PORT)"
  local masters="spark://$HOST:$PORT"
  [[ "$HA" == 1 ]] && masters="spark://$HOST:$PORT,$HOST:$STANDBY_PORT"
  # The worker heartbeats every spark.worker.timeout/4 of ITS OWN setting (default 60 s → 15 s):
  # with only the master at 10 s, the master dropped the worker every 30 s and relaunched
  # every supervised driver under a new id.
  spawn worker "$TAG:worker" "${JVM_ENV[@]}" java -Xmx256m "-Dlogwise.tag=$TAG:worker" \
    -Dspark.worker.timeout=10 "-Dspark.shuffle.service.enabled=$SHUFFLE_SERVICE" \
    -cp "$SPARK_HOME/conf:$JARS/*" org.apache.spark.deploy.worker.Worker \
    --host "$HOST" -c "$WORKER_CORES" -m "$WORKER_MEMORY" -d "$WORK_DIR" \
    --webui-port "$WORKER_UI_PORT" "$masters"
}

up() {
  local t0
  t0="$(now)"
  build
  layout_home
  start_zookeeper
  start_master master "$PORT" "$UI_PORT" "$REST_PORT"
  wait_until "$TIMEOUT" "master ALIVE" is_status master "$UI_PORT" ALIVE ||
    die "the Spark master on $HOST:$UI_PORT is not ALIVE after ${TIMEOUT} s" "$LOG_DIR/master.log"
  if [[ "$HA" == 1 ]]; then
    start_master standby "$STANDBY_PORT" "$STANDBY_UI_PORT" "$STANDBY_REST_PORT"
    wait_until "$TIMEOUT" "standby" is_status standby "$STANDBY_UI_PORT" STANDBY ||
      die "the second Spark master on $HOST:$STANDBY_UI_PORT is not STANDBY after ${TIMEOUT} s" "$LOG_DIR/standby.log"
  fi
  start_worker
  wait_until "$TIMEOUT" "one alive worker" has_worker "$UI_PORT" ||
    die "the Spark master on $HOST:$UI_PORT has no alive worker after ${TIMEOUT} s" "$LOG_DIR/worker.log" "$LOG_DIR/master.log"
  if [[ "$REST_ENABLED" == true ]]; then
    wait_until "$TIMEOUT" "REST server" listens master "$REST_PORT" ||
      die "the Spark master's REST server does not listen on $REST_PORT" "$LOG_DIR/master.log"
  fi
  log "spark: master ALIVE at spark://$HOST:$PORT (ui $UI_PORT, rest $REST_PORT), one worker; ready in $(elapsed_since "$t0") s"
}

down() {
  stop worker "$TAG:worker"
  stop standby "$TAG:standby"
  stop master "$TAG:master"
  stop zookeeper "$TAG:zookeeper"
  log "spark: stopped ($DIR)"
}

status() {
  local name pid
  for name in zookeeper master standby worker; do
    pid="$(running "$name" "$TAG:$name")"
    if [[ -n "$pid" ]]; then log "spark $name: running (pid $pid)"; fi
  done
  local st
  st="$(master_status "$UI_PORT" || true)"
  if [[ -n "$st" ]]; then
    log "spark master at $HOST:$UI_PORT: $st ($(alive_workers "$UI_PORT" || true) alive workers)"
  else
    log "spark master at $HOST:$UI_PORT: down"
  fi
}

print_env() {
  cat <<ENV
SPARK_TEST_MASTER_HOST=$HOST
SPARK_TEST_PORT=$PORT
SPARK_TEST_UI_PORT=$UI_PORT
SPARK_TEST_REST_PORT=$REST_PORT
SPARK_TEST_VERSION=$SPARK_VERSION
SPARK_TEST_SCALA_VERSION=$SCALA_BINARY
SPARK_TEST_JAR=$APP_JAR
SPARK_TEST_MAIN_CLASS=logwise.testapp.RunUntilKilled
SPARK_TEST_FINISH_CLASS=logwise.testapp.FinishAfter
SPARK_TEST_FAIL_CLASS=logwise.testapp.FailAfter
SPARK_TEST_STREAM_CLASS=logwise.testapp.LogStreamJob
SPARK_TEST_DRIVER_JAVA_OPTIONS='$DRIVER_JAVA_OPTIONS'
SPARK_TEST_WORKER_MEMORY=$WORKER_MEMORY
SPARK_TEST_WORKER_CORES=$WORKER_CORES
SPARK_TEST_DIR=$DIR
SPARK_TEST_WORK_DIR=$WORK_DIR
SPARK_TEST_RUN_DIR=$RUN_DIR
ENV
  if [[ "$HA" == 1 ]]; then
    cat <<ENV
SPARK_TEST_STANDBY_PORT=$STANDBY_PORT
SPARK_TEST_STANDBY_UI_PORT=$STANDBY_UI_PORT
SPARK_TEST_STANDBY_REST_PORT=$STANDBY_REST_PORT
ENV
  fi
}

[[ $# -eq 1 ]] || { err "usage: bash test/services/spark.sh up|down|env|status|build"; exit 2; }
lock_dir "$DIR"
command -v curl >/dev/null 2>&1 || die "curl is not installed (apt-get install curl)"
case "$1" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  status) status ;;
  build) build ;;
  *) err "usage: bash test/services/spark.sh up|down|env|status|build"; exit 2 ;;
esac
