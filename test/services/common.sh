# Helpers shared by the JVM services' scripts (spark.sh, kafka.sh): sourced, not run.
# The caller sets RUN_DIR (pid files) and LOG_DIR (process output) before using spawn/stop.

err() { printf '%s\n' "$*" >&2; }
log() { printf '%s\n' "$*"; }
die() {
  # die MESSAGE [LOGFILE...]: one line naming the problem, then the tail of each log
  local msg="$1" f; shift
  err "ERROR: $msg"
  for f in "$@"; do
    if [[ -s "$f" ]]; then
      err "---- last lines of $f ----"
      tail -n 25 "$f" >&2 || true
    fi
  done
  exit 1
}

now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# alive PID: the process exists and is not a zombie (zombies linger ~2 s here).
alive() {
  local pid="$1" stat
  [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
  { stat="$(</proc/"$pid"/stat)"; } 2>/dev/null || return 1
  stat="${stat##*) }"
  [[ -n "$stat" && "${stat:0:1}" != Z && "${stat:0:1}" != X ]]
}

# cmdline_has PID WORD: PID's command line holds WORD as one argument.
cmdline_has() {
  local args=()
  mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
  local a
  for a in "${args[@]}"; do [[ "$a" == "$2" ]] && return 0; done
  return 1
}

# running NAME TAG: the pid recorded for NAME if it is alive and was started with -Dlogwise.tag=TAG.
running() {
  local pidfile="$RUN_DIR/$1.pid" pid=""
  [[ -f "$pidfile" ]] || return 0
  read -r pid <"$pidfile" 2>/dev/null || true
  if alive "$pid" && cmdline_has "$pid" "-Dlogwise.tag=$2"; then printf '%s\n' "$pid"; fi
}

# spawn NAME TAG CMD...: start CMD (which carries -Dlogwise.tag=TAG) detached: own session,
# stdin /dev/null, output appended to $LOG_DIR/NAME.log, no inherited descriptors beyond 0-2;
# pid in $RUN_DIR/NAME.pid. Returns once the process runs CMD (or has died).
spawn() {
  local name="$1" tag="$2" i; shift 2
  (
    for fd in $(ls /proc/$BASHPID/fd 2>/dev/null); do
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid nohup "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1
  ) &
  local pid=$!
  echo "$pid" >"$RUN_DIR/$name.pid"
  disown "$pid"
  for ((i = 0; i < 200; i++)); do
    alive "$pid" || break
    cmdline_has "$pid" "-Dlogwise.tag=$tag" && break
    sleep 0.05
  done
}

# stop NAME TAG: SIGTERM, up to 15 s, then SIGKILL; wait until gone.
stop() {
  local pid i
  pid="$(running "$1" "$2")"
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
    fi
    alive "$pid" && die "$1 (pid $pid) is still running after SIGKILL"
  fi
  rm -f "$RUN_DIR/$1.pid"
}

# need_java: java and javac 17+ on PATH, or one line saying what is missing.
need_java() {
  command -v java >/dev/null 2>&1 || die "java is not installed (Java 17 runs the test Spark and Kafka: apt-get install openjdk-17-jdk-headless)"
  command -v javac >/dev/null 2>&1 || die "javac is not installed (the test Spark application is compiled here: apt-get install openjdk-17-jdk-headless)"
}
need_maven() {
  command -v mvn >/dev/null 2>&1 || die "mvn is not installed (Maven fetches the Spark and Kafka jars from Maven Central: apt-get install maven)"
}

# fetch_jars POM DEST: the POM's runtime dependencies into DEST, once per POM content.
fetch_jars() {
  local pom="$1" dest="$2" stamp want
  stamp="$dest/.pom.sha256"
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  mkdir -p "$(dirname "$dest")"
  # One fetch at a time per destination (clusters of parallel test files share the jars).
  exec 7>"$dest.lock"
  flock -w 600 7 || die "another fetch holds $dest.lock"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then exec 7>&-; return 0; fi
  need_maven
  local t0 tmp="$dest.tmp.$$"
  t0="$(now)"
  log "fetching the jars of $(basename "$pom") from Maven Central into $dest ..."
  rm -rf "$tmp"
  mkdir -p "$(dirname "$dest")"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$dest.mvn.log" 2>&1; then
    rm -rf "$tmp"
    if grep -qiE 'UnknownHost|Could not transfer|Connection refused|timed out|Network is unreachable' "$dest.mvn.log"; then
      die "Maven Central is unreachable: cannot fetch the jars of $(basename "$pom")" "$dest.mvn.log"
    fi
    die "mvn could not fetch the jars of $(basename "$pom")" "$dest.mvn.log"
  fi
  echo "$want" >"$tmp/.pom.sha256"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  log "jars fetched in $(elapsed_since "$t0") s ($(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1))"
  exec 7>&-
}

# lock_dir DIR: one script at a time on the service instance in DIR (fd 8 held until exit).
lock_dir() {
  mkdir -p "$1"
  exec 8>"$1/.lock"
  flock -w 300 8 || die "another script holds $1/.lock"
}

# wait_until SECONDS DESCRIPTION CHECK...: poll CHECK every 0.25 s.
wait_until() {
  local secs="$1" what="$2" i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" && return 0
    sleep 0.25
  done
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
