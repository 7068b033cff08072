#!/usr/bin/env bash
# A local Apicurio Registry (a Confluent-compatible schema registry: its ccompat API answers at
# /apis/ccompat/v7) on 127.0.0.1, for tests and development on machines without Docker. The app's
# `all` assembly (io.apicurio:apicurio-registry-app:<version>:tar.gz:all, the Quarkus runner jar
# and its lib/) comes from Maven Central through Maven into a cache outside the repository:
# ${LANNER_CACHE:-$HOME/.cache/lanner}/apicurio-<version>. Storage is in memory: a restart
# forgets every schema.
#
#   scripts/apicurio.sh fetch    download and unpack the registry (once)
#   scripts/apicurio.sh start    start it unless it already runs; prints its base URL
#                                (http://127.0.0.1:PORT) on stdout once /apis/ccompat/v7/subjects answers
#   scripts/apicurio.sh status   prints the URL and exits 0 when running, exits 1 otherwise
#   scripts/apicurio.sh stop     stops the registry started from this cache
#
# Environment: APICURIO_VERSION (default 3.0.9), LANNER_CACHE, APICURIO_HEAP (default -Xmx384m),
# APICURIO_JAVA (default: java on the PATH; Apicurio 3 needs Java 17 or newer).
set -euo pipefail

APICURIO_VERSION="${APICURIO_VERSION:-3.0.9}"
CACHE="${LANNER_CACHE:-$HOME/.cache/lanner}/apicurio-${APICURIO_VERSION}"
APP="$CACHE/app"
RUN="$CACHE/run"
HEAP="${APICURIO_HEAP:--Xmx384m}"
JAVA="${APICURIO_JAVA:-java}"

log() { echo "apicurio.sh: $*" >&2; }
# shellcheck source=lib/service.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

fetch() {
  if [ -f "$APP/.complete" ]; then return 0; fi
  mkdir -p "$CACHE"
  log "fetching io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all with Maven"
  rm -rf "$CACHE/download" "$APP.tmp"
  mvn -q -B -Dstyle.color=never dependency:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all" \
    -DoutputDirectory="$CACHE/download" >&2
  mkdir -p "$APP.tmp"
  tar xzf "$CACHE/download/apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz" -C "$APP.tmp"
  rm -rf "$CACHE/download" "$APP"
  mv "$APP.tmp" "$APP"
  touch "$APP/.complete"
}

answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/apis/ccompat/v7/subjects" 2>/dev/null; }

running() {
  [ -f "$RUN/pid" ] && [ -f "$RUN/port" ] || return 1
  kill -0 "$(cat "$RUN/pid")" 2>/dev/null && answers "$(cat "$RUN/port")"
}

start() {
  fetch
  mkdir -p "$RUN"
  # One starter at a time per cache (parallel test files all call this).
  exec 9>"$RUN/lock"
  flock 9
  if running; then
    echo "http://127.0.0.1:$(cat "$RUN/port")"
    return 0
  fi
  # A registry that runs but does not answer: replace it.
  end_unanswering
  local port
  port="$(free_port)"
  local runner
  runner="$(ls "$APP"/apicurio-registry-app-*-runner.jar | head -n1)"
  : >"$RUN/server.log"
  # setsid: the registry outlives the shell (and the test run) that started it; later runs reuse it.
  # Storage defaults to in-memory; the management port is moved off 9000 so it never collides.
  setsid nohup "$JAVA" $HEAP -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.management.enabled=false \
    -Dquarkus.log.level=WARN -Dquarkus.log.category.\"io.apicurio\".level=WARN \
    -jar "$runner" >>"$RUN/server.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/pid"
  echo "$port" >"$RUN/port"
  for _ in $(seq 1 1200); do
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      tail -n 40 "$RUN/server.log" >&2
      log "Apicurio Registry exited during start-up (log: $RUN/server.log)"
      exit 1
    fi
    if answers "$port"; then
      echo "http://127.0.0.1:${port}"
      return 0
    fi
    sleep 0.1
  done
  log "Apicurio Registry did not answer within 120 s (log: $RUN/server.log)"
  exit 1
}

case "${1:-start}" in
  fetch) fetch ;;
  start) start ;;
  status) if running; then echo "http://127.0.0.1:$(cat "$RUN/port")"; else exit 1; fi ;;
  stop) stop ;;
  *) log "usage: scripts/apicurio.sh fetch|start|status|stop"; exit 2 ;;
esac
