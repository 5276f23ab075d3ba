#!/usr/bin/env bash
# Test services for the integration tests: MariaDB, a real S3 server (Ceph RADOS
# Gateway on a one-host cluster: one ceph-mon, one ceph-osd on the in-memory memstore,
# radosgw with the beast frontend; no cephx, no systemd, everything on 127.0.0.1), a real
# Spark standalone master + worker and a real Kafka broker (test/services/spark.sh and
# kafka.sh: jars from Maven Central, plain java).
#
#   bash test/services.sh up      start what is not running (idempotent; run as root)
#   bash test/services.sh down    stop Spark, Kafka, then radosgw, the OSD, the monitor
#   bash test/services.sh status  show what runs
#   bash test/services.sh spark-up|spark-down|spark-env|spark-status   the Spark cluster alone
#   bash test/services.sh kafka-up|kafka-down|kafka-env|kafka-status   the Kafka broker alone
#   bash test/services.sh ceph-down    `down` for the S3 server alone (the JVM services stay)
#   bash test/services.sh ceph-up      `up` for the S3 server alone (fault tests start a private
#                                  cluster with other ports and data dir; MariaDB is left alone)
#   bash test/services.sh rgw-restart  (re)start only radosgw on the running monitor and OSD,
#                                  keeping the buckets (fault tests kill radosgw on purpose)
#
# See /work/shared/S3_TEST_SERVER.md (how the Ceph setup was found) for the reasons
# behind the settings below. memstore keeps nothing across restarts, so every start of
# the S3 server builds a fresh cluster under $CEPH_TEST_DATA_DIR (default
# .services/ceph in the project root, git-ignored).
#
# Settings (env vars, defaults in brackets):
#   MARIADB_TEST_HOST [127.0.0.1]   MARIADB_TEST_PORT [3306]   MARIADB_TEST_DATABASE [test]
#   S3_TEST_PORT [7480]             S3_TEST_REGION [us-east-1]
#   S3_TEST_ACCESS_KEY [LWTESTACCESSKEY]   S3_TEST_SECRET_KEY [lwtestsecretkey0123456789]
#   CEPH_TEST_MON_PORT [26100] (msgr2; msgr1 uses the next port)
#   CEPH_TEST_DATA_DIR [<project>/.services/ceph]
#   SERVICES_TIMEOUT [60]  seconds to wait for each readiness step
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

MARIADB_HOST="${MARIADB_TEST_HOST:-127.0.0.1}"
MARIADB_PORT="${MARIADB_TEST_PORT:-3306}"
MARIADB_DATABASE="${MARIADB_TEST_DATABASE:-test}"

S3_HOST=127.0.0.1
S3_PORT="${S3_TEST_PORT:-7480}"
S3_REGION="${S3_TEST_REGION:-us-east-1}"
S3_ACCESS_KEY="${S3_TEST_ACCESS_KEY:-LWTESTACCESSKEY}"
S3_SECRET_KEY="${S3_TEST_SECRET_KEY:-lwtestsecretkey0123456789}"
MON_PORT="${CEPH_TEST_MON_PORT:-26100}"
SERVICES_DIR="$ROOT/.services"
DATA="${CEPH_TEST_DATA_DIR:-$SERVICES_DIR/ceph}"
CONF="$DATA/ceph.conf"
TIMEOUT="${SERVICES_TIMEOUT:-60}"

S3_URL="http://$S3_HOST:$S3_PORT"
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# Helpers shared with the JVM services' scripts; this script's own log, err, die and spawn
# (Ceph's pid files and cleanup) follow and take their place.
# shellcheck source=services/common.sh
source "$ROOT/test/services/common.sh"

log() { printf '%s\n' "$*"; }
err() { printf 'services.sh: %s\n' "$*" >&2; }

CEPH_STARTING=0   # 1 while a cluster is being built: die() then stops its daemons

die() {
  # die MESSAGE [LOGFILE...]: print the message, the tail of each log, exit 1
  local msg="$1"; shift
  err "ERROR: $msg"
  local f
  for f in "$@"; do
    if [[ -s "$f" ]]; then
      # Error lines first: a crash dump can push the cause out of the tail.
      if grep -aqE ' -1 |ERROR|[Ee]rror|failed' "$f"; then
        err "---- error lines in $f ----"
        grep -aE ' -1 |ERROR|[Ee]rror|failed' "$f" | tail -n 8 >&2 || true
      fi
      err "---- last lines of $f ----"
      tail -n 20 "$f" >&2 || true
    fi
  done
  if ((CEPH_STARTING)); then
    CEPH_STARTING=0
    err "stopping the half-started cluster (logs stay in $DATA/log)"
    ceph_down kill || true
  fi
  exit 1
}

# ---------------------------------------------------------------- processes

# alive, now, elapsed_since and port_in_use come from test/services/common.sh (sourced above).

# ours PID: PID is alive and its command line names our ceph.conf.
ours() {
  local pid="$1" args=()
  alive "$pid" || return 1
  mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [[ " ${args[*]} " == *" $CONF "* ]]
}

# our_pid NAME: the pid from NAME's pid file if that process is one of ours; else empty.
our_pid() {
  local pidfile="$DATA/run/$1.pid" pid=""
  [[ -f "$pidfile" ]] || return 0
  read -r pid <"$pidfile" 2>/dev/null || true
  if ours "$pid"; then printf '%s\n' "$pid"; fi
}

# stray_pids EXE: live EXE processes started with our ceph.conf (e.g. after the data dir
# or the pid files were deleted under running daemons).
stray_pids() {
  local exe="$1" d comm
  for d in /proc/[0-9]*; do
    comm=""
    read -r comm 2>/dev/null <"$d/comm" || continue
    if [[ "$comm" == "$exe" ]] && ours "${d#/proc/}"; then printf '%s\n' "${d#/proc/}"; fi
  done
}

# stop_daemon NAME EXE [term|kill]: stop our daemon NAME (and strays of EXE started with
# our ceph.conf) and wait until they are gone. term: SIGTERM, up to 15 s, then SIGKILL;
# kill: SIGKILL at once (for a cluster about to be thrown away: a daemon whose data dir
# was deleted, or radosgw whose OSD is gone, takes 5-15 s to honour SIGTERM).
stop_daemon() {
  local name="$1" exe="$2" mode="${3:-term}" pids pid i any
  pids="$( { our_pid "$name"; stray_pids "$exe"; } | sort -u)"
  if [[ -n "$pids" && "$mode" == term ]]; then
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 150; i++)); do         # up to 15 s
      any=0
      for pid in $pids; do alive "$pid" && any=1; done
      ((any)) || break
      sleep 0.1
    done
  fi
  if [[ -n "$pids" ]]; then
    for pid in $pids; do
      if alive "$pid"; then
        [[ "$mode" == term ]] && err "$name (pid $pid) did not exit after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    for ((i = 0; i < 100; i++)); do         # up to 10 s
      any=0
      for pid in $pids; do alive "$pid" && any=1; done
      ((any)) || break
      sleep 0.1
    done
    for pid in $pids; do
      alive "$pid" && die "$name (pid $pid) is still running after SIGKILL"
    done
  fi
  rm -f "$DATA/run/$name.pid"
}

# spawn NAME CMD...: start CMD detached from the calling shell (own session, stdin from
# /dev/null, output into $DATA/log/NAME.out, no inherited descriptors beyond 0-2) and
# record its pid in $DATA/run/NAME.pid.
spawn() {
  local name="$1"; shift
  local out="$DATA/log/$name.out"
  (
    # Close inherited descriptors (a caller's pipe held open by a daemon would make
    # `$(bash test/services.sh up)` or a CI step wait forever).
    for fd in $(ls /proc/$BASHPID/fd 2>/dev/null); do
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    # Not a process group leader here, so setsid execs in place: $! is the daemon.
    exec setsid nohup "$@" </dev/null >>"$out" 2>&1
  ) &
  local pid=$! i
  echo "$pid" >"$DATA/run/$name.pid"
  disown "$pid" # no "Killed" job notice if this script has to stop it again
  # Until the subshell has exec'd the daemon, its command line is this script's and
  # our_pid would call the daemon dead.
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || break
    ours "$pid" && break
    sleep 0.05
  done
}


# ---------------------------------------------------------------- MariaDB

mariadb_tcp() {
  mariadb --protocol=tcp -h"$MARIADB_HOST" -P"$MARIADB_PORT" -uroot --connect-timeout=2 "$@"
}

# mariadb_answers: the server answers on TCP (an access error is an answer too: a fresh
# data dir has no root@127.0.0.1, and mysqladmin ping fails on "host not allowed").
mariadb_answers() {
  local out
  out="$(mysqladmin --protocol=tcp -h"$MARIADB_HOST" -P"$MARIADB_PORT" -uroot \
    --connect-timeout=2 ping 2>&1)" && return 0
  [[ "$out" == *"Access denied"* || "$out" == *"is not allowed to connect"* ]]
}

mariadb_up() {
  if ! mariadb_answers; then
    if [[ ! -x /usr/sbin/mariadbd ]]; then
      apt_install mariadb-server mariadb-client
    fi
    # /run is a tmpfs after a reboot; the error log directory may be missing too.
    install -d -o mysql -g root -m 0755 /run/mysqld
    [[ -d /var/log/mysql ]] || install -d -o mysql -g adm -m 2750 /var/log/mysql
    if [[ ! -d /var/lib/mysql/mysql ]]; then
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/tmp/mariadb-install-db.log 2>&1 ||
        die "mariadb-install-db failed" /tmp/mariadb-install-db.log
    fi
    local extra=()
    [[ "$MARIADB_PORT" != 3306 ]] && extra=(-- "--port=$MARIADB_PORT")
    start-stop-daemon --start --oknodo --quiet --background --exec /usr/sbin/mariadbd "${extra[@]}"
    local i
    for ((i = 0; i < 300; i++)); do                # up to 30 s
      mariadb_answers && break
      sleep 0.1
    done
    mariadb_answers ||
      die "MariaDB does not answer on $MARIADB_HOST:$MARIADB_PORT after 30 s" /var/log/mysql/error.log
  fi
  # root@127.0.0.1 with an empty password over TCP (skip-name-resolve: root@localhost
  # does not match TCP clients); fix it through the socket if needed.
  if ! mariadb_tcp -e 'select 1' >/dev/null 2>&1; then
    mariadb --protocol=socket -uroot -e "
      CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
      ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      FLUSH PRIVILEGES;" >/dev/null 2>&1 || true
    mariadb_tcp -e 'select 1' >/dev/null 2>&1 ||
      die "MariaDB answers on $MARIADB_HOST:$MARIADB_PORT but root with an empty password cannot log in over TCP" \
        /var/log/mysql/error.log
  fi
  mariadb_tcp -e "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`" ||
    die "cannot create database $MARIADB_DATABASE"
}

mariadb_status() {
  if mariadb_answers; then
    log "mariadb: up at $MARIADB_HOST:$MARIADB_PORT"
  else
    log "mariadb: down"
  fi
}

# ---------------------------------------------------------------- Ceph RGW

apt_install() {
  log "installing $* (apt-get) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/services-apt.log 2>&1 || die "apt-get update failed" /tmp/services-apt.log
  apt-get install -y -qq --no-install-recommends "$@" >>/tmp/services-apt.log 2>&1 ||
    die "apt-get install $* failed" /tmp/services-apt.log
}

ceph_packages_present() {
  local b
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen curl; do
    command -v "$b" >/dev/null 2>&1 || return 1
  done
}

ceph_cli() {
  timeout 20 ceph -c "$CONF" --connect-timeout 10 "$@"
}

# rgw_answers: a SigV4-signed ListBuckets (GET /) answers 200.
rgw_answers() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$S3_URL/" 2>/dev/null || true)"
  [[ "$code" == 200 ]]
}

ceph_running() {
  [[ -n "$(our_pid mon.a)" && -n "$(our_pid osd.0)" && -n "$(our_pid rgw.a)" ]]
}

write_ceph_conf() {
  local fsid="$1"
  # Unix socket paths are limited to 107 bytes; without a short enough path, the
  # daemons run without an admin socket (it is only for debugging).
  local asok="$DATA/run/\$name.asok"
  if ((${#DATA} + 30 > 100)); then asok=""; fi
  cat >"$CONF" <<EOF
# Generated by test/services.sh; rebuilt on every start.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT1]
mon initial members = a
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
osd crush initial weight = 1
# Without these the first commit takes ~12 s.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $DATA/run
log file = $DATA/log/\$name.log
admin socket = $asok
mon data = $DATA/mon/\$cluster-\$id
osd data = $DATA/osd/\$cluster-\$id
keyring = $DATA/keyring
# CPU is the limit on a 2-core machine (test client, OSD and RGW share it): no in-memory
# debug logs, no message CRCs on loopback, no op tracking.
debug ms = 0/0
debug monc = 0/0
debug auth = 0/0
debug objecter = 0/0
debug rados = 0/0
debug osd = 0/0
debug memstore = 0/0
debug objclass = 0/0
debug rgw = 0/0
debug rgw sync = 0/0
debug civetweb = 0/0
debug mon = 0/0
debug paxos = 0/0
debug finisher = 0/0
debug context = 0/0
debug heartbeatmap = 0/0
debug perfcounter = 0/0
debug throttle = 0/0
debug asok = 0/0
debug crush = 0/0
debug optracker = 0/0
debug buffer = 0/0
debug timer = 0/0
debug filer = 0/0
debug journaler = 0/0
debug objectcacher = 0/0
debug client = 0/0
ms crc data = false
ms crc header = false
osd enable op tracker = false
throttler perf counter = false

[mon]
mon cluster log file = $DATA/log/cluster.log

[osd]
osd objectstore = memstore
memstore device bytes = 2147483648
# The PG log otherwise grows the OSD by ~150 MB per test run.
osd min pg log entries = 10
osd max pg log entries = 10
osd pg log dups tracked = 10
osd pg log trim min = 10

[client]
# Short-lived CLI clients (ceph, radosgw-admin) need no admin socket.
admin socket =

[client.rgw.a]
# With auth off radosgw otherwise never gets past the monitor handshake (-13).
ms mon client mode = crc secure
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT tcp_nodelay=1
rgw data = $DATA/rgw
admin socket = $asok
log file = $DATA/log/\$name.log
rgw enable usage log = false
rgw enable ops log = false
rgw thread pool size = 128
EOF
}

# wait_for DESC LOG CMD...: poll CMD (quiet by itself) every 0.1 s until it succeeds,
# up to $TIMEOUT s.
wait_for() {
  local desc="$1" logf="$2"; shift 2
  local deadline=$((SECONDS + TIMEOUT))
  while ! "$@"; do
    if ((SECONDS >= deadline)); then
      die "$desc: not ready after ${TIMEOUT} s" "$logf"
    fi
    sleep 0.1
  done
}

# check_alive NAME LOG...: fail at once if daemon NAME has died.
check_alive() {
  local name="$1"; shift
  [[ -n "$(our_pid "$name")" ]] || die "$name exited during startup" "$@"
}

mon_ready() {
  check_alive mon.a "$DATA/log/mon.a.log" "$DATA/log/mon.a.out"
  ceph_cli mon stat >/dev/null 2>&1
}

osd_ready() {
  check_alive osd.0 "$DATA/log/osd.0.log" "$DATA/log/osd.0.out"
  ceph_cli osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'
}

rgw_ready() {
  check_alive rgw.a "$DATA/log/client.rgw.a.log" "$DATA/log/rgw.a.out"
  rgw_answers
}

# ceph_down [term|kill]: radosgw first (it hangs when the OSD goes first), then the OSD,
# then the monitor.
ceph_down() {
  local mode="${1:-term}" rgw_mode="${1:-term}"
  if [[ -z "$(our_pid osd.0)" || -z "$(our_pid mon.a)" ]]; then rgw_mode=kill; fi
  stop_daemon rgw.a radosgw "$rgw_mode"
  stop_daemon osd.0 ceph-osd "$mode"
  stop_daemon mon.a ceph-mon "$mode"
}

ceph_up() {
  if ! ceph_packages_present; then
    apt_install ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl
  fi

  # Reuse a running cluster of ours that was built with the same settings and answers a
  # signed request (a few tries: under heavy CPU load an answer can take a while).
  local settings="s3_port=$S3_PORT mon_port=$MON_PORT region=$S3_REGION access_key=$S3_ACCESS_KEY secret_key=$S3_SECRET_KEY"
  if ceph_running && [[ "$(cat "$DATA/settings" 2>/dev/null || true)" == "$settings" ]]; then
    local try
    for try in 1 2 3; do
      rgw_answers && return 0
      ceph_running || break
      sleep 1
    done
    err "the running RGW does not answer signed requests at $S3_URL; rebuilding the cluster"
  fi

  local start
  start="$(now)"
  # Anything left from a previous run (dead pids, half-started daemons, old data) goes;
  # memstore keeps nothing worth a graceful stop.
  ceph_down kill
  if port_in_use "$S3_PORT"; then
    die "port 127.0.0.1:$S3_PORT is taken by another process (not an RGW started by this script); set S3_TEST_PORT or stop it"
  fi
  if port_in_use "$MON_PORT" || port_in_use "$MON_PORT1"; then
    die "port 127.0.0.1:$MON_PORT or $MON_PORT1 is taken by another process; set CEPH_TEST_MON_PORT or stop it"
  fi
  rm -rf "$DATA"
  CEPH_STARTING=1
  mkdir -p "$DATA/run" "$DATA/log" "$DATA/mon" "$DATA/osd/ceph-0" "$DATA/rgw"
  : >"$DATA/keyring"

  local fsid osd_uuid
  fsid="$(uuidgen)"
  osd_uuid="$(uuidgen)"
  write_ceph_conf "$fsid"

  # 1. monitor
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT1]" \
    "$DATA/monmap" >"$DATA/log/mkfs.out" 2>&1 || die "monmaptool failed" "$DATA/log/mkfs.out"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DATA/monmap" >>"$DATA/log/mkfs.out" 2>&1 ||
    die "ceph-mon --mkfs failed" "$DATA/log/mkfs.out" "$DATA/log/mon.a.log"
  spawn mon.a ceph-mon -c "$CONF" -i a -f
  wait_for "ceph-mon" "$DATA/log/mon.a.log" mon_ready

  # 2. OSD on memstore
  local id
  id="$(ceph_cli osd new "$osd_uuid" 2>>"$DATA/log/mkfs.out")" ||
    die "ceph osd new failed" "$DATA/log/mkfs.out" "$DATA/log/mon.a.log"
  [[ "$id" == 0 ]] || die "ceph osd new returned id '$id', expected 0" "$DATA/log/mkfs.out"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DATA/log/mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed" "$DATA/log/mkfs.out" "$DATA/log/osd.0.log"
  spawn osd.0 ceph-osd -c "$CONF" -i 0 -f
  wait_for "ceph-osd" "$DATA/log/osd.0.log" osd_ready

  # 3. S3 user (this also creates the RGW pools) and region
  timeout "$TIMEOUT" radosgw-admin -c "$CONF" -n client.rgw.a user create --uid=lwtest \
    --display-name="logwise tests" --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" \
    >"$DATA/log/radosgw-admin.out" 2>&1 ||
    die "radosgw-admin user create failed" "$DATA/log/radosgw-admin.out" "$DATA/log/osd.0.log"
  if [[ "$S3_REGION" != us-east-1 ]]; then
    # CreateBucket from a client in another region fails with InvalidLocationConstraint
    # unless the zonegroup's api name is that region.
    timeout "$TIMEOUT" radosgw-admin -c "$CONF" -n client.rgw.a zonegroup modify \
      --rgw-zonegroup=default --api-name="$S3_REGION" >>"$DATA/log/radosgw-admin.out" 2>&1 ||
      die "radosgw-admin zonegroup modify failed" "$DATA/log/radosgw-admin.out"
  fi

  # 4. radosgw
  spawn rgw.a radosgw -c "$CONF" -n client.rgw.a -f
  wait_for "radosgw" "$DATA/log/client.rgw.a.log" rgw_ready
  printf '%s\n' "$settings" >"$DATA/settings"
  CEPH_STARTING=0
  log "s3 (ceph rgw): started in $(elapsed_since "$start") s (data and logs in $DATA)"
}

# rgw_restart: start radosgw again on the cluster of $CEPH_TEST_DATA_DIR, whose monitor and OSD
# must still run (memstore keeps the data only while the OSD lives; `up` would rebuild the
# cluster from nothing). A radosgw of ours that still runs is stopped first.
rgw_restart() {
  [[ -f "$CONF" ]] || die "no cluster in $DATA (run \`up\` first)"
  [[ -n "$(our_pid mon.a)" ]] || die "ceph-mon of $DATA is not running; \`up\` rebuilds the cluster (the buckets are lost)"
  [[ -n "$(our_pid osd.0)" ]] || die "ceph-osd of $DATA is not running; \`up\` rebuilds the cluster (the buckets are lost)"
  local start
  start="$(now)"
  stop_daemon rgw.a radosgw kill
  if port_in_use "$S3_PORT"; then
    die "port 127.0.0.1:$S3_PORT is taken by another process; radosgw cannot listen there"
  fi
  spawn rgw.a radosgw -c "$CONF" -n client.rgw.a -f
  wait_for "radosgw" "$DATA/log/client.rgw.a.log" rgw_ready
  log "s3 (ceph rgw): radosgw restarted in $(elapsed_since "$start") s at $S3_URL (pid $(our_pid rgw.a))"
}

ceph_status() {
  local n pid any=0
  for n in mon.a osd.0 rgw.a; do
    pid="$(our_pid "$n")"
    if [[ -n "$pid" ]]; then
      log "  $n: running (pid $pid)"; any=1
    else
      log "  $n: not running"
    fi
  done
  if rgw_answers; then
    log "s3 (ceph rgw): up at $S3_URL"
  elif ((any)); then
    log "s3 (ceph rgw): not answering at $S3_URL"
  else
    log "s3 (ceph rgw): down"
  fi
}

# ---------------------------------------------------------------- main

usage() { err "usage: bash test/services.sh up|down|status|ceph-up|ceph-down|rgw-restart|spark-up|spark-down|spark-env|spark-status|kafka-up|kafka-down|kafka-env|kafka-status"; exit 2; }

# The JVM services have scripts of their own, with locks of their own.
case "${1:-}" in
  spark-up | spark-down | spark-env | spark-status | spark-build) exec bash "$ROOT/test/services/spark.sh" "${1#spark-}" ;;
  kafka-up | kafka-down | kafka-env | kafka-status) exec bash "$ROOT/test/services/kafka.sh" "${1#kafka-}" ;;
esac

for p in "$S3_PORT" "$MON_PORT" "$MARIADB_PORT"; do
  [[ "$p" =~ ^[0-9]+$ ]] && ((p > 0 && p < 65535)) || die "invalid port '$p' (check S3_TEST_PORT, CEPH_TEST_MON_PORT, MARIADB_TEST_PORT)"
done
MON_PORT1=$((MON_PORT + 1)) # the monitor's msgr1 port

[[ $# -eq 1 ]] || usage
mkdir -p "$SERVICES_DIR"
# One invocation at a time (e.g. two `npm test` runs in the same tree).
exec 9>"$SERVICES_DIR/.services.lock"
flock -w 300 9 || die "another test/services.sh holds $SERVICES_DIR/.services.lock"

case "$1" in
  up)
    [[ "$(id -u)" == 0 ]] || err "warning: not root; starting services may fail"
    mariadb_up
    ceph_up
    log "mariadb: up at $MARIADB_HOST:$MARIADB_PORT (database $MARIADB_DATABASE)"
    log "s3 (ceph rgw): up at $S3_URL"
    bash "$ROOT/test/services/kafka.sh" up
    bash "$ROOT/test/services/spark.sh" up
    bash "$ROOT/test/services/chromium.sh"
    ;;
  down)
    bash "$ROOT/test/services/spark.sh" down
    bash "$ROOT/test/services/kafka.sh" down
    ceph_down
    log "s3 (ceph rgw): stopped (mariadb left running)"
    ;;
  status)
    mariadb_status
    ceph_status
    bash "$ROOT/test/services/kafka.sh" status
    bash "$ROOT/test/services/spark.sh" status
    ;;
  ceph-up)
    [[ "$(id -u)" == 0 ]] || err "warning: not root; starting services may fail"
    ceph_up
    log "s3 (ceph rgw): up at $S3_URL"
    ;;
  ceph-down)
    ceph_down
    log "s3 (ceph rgw): stopped"
    ;;
  rgw-restart)
    rgw_restart
    ;;
  *) usage ;;
esac
