#!/usr/bin/env bash
# Fetches Elasticsearch's integration-test distribution from Maven Central (no Docker needed) into a
# cache outside git and starts it on 127.0.0.1, single node, security off, as a non-root user.
#
#   scripts/elasticsearch.sh fetch          download + unpack only; prints the install directory
#   scripts/elasticsearch.sh start          fetch if needed, start if not already up; prints the URL
#   scripts/elasticsearch.sh stop           stop the node this script started
#   scripts/elasticsearch.sh status         prints the URL when the node answers, exits 1 otherwise
#
# Environment: LANNER_CACHE (default ~/.cache/lanner), LANNER_ES_VERSION (default below),
# LANNER_ES_PORT (default 9201 so a developer's own 9200 is left alone), ES_JAVA_HOME (default: the
# machine's Java 17; ES 8 runs on 17 and the integ-test zip bundles no JDK).
set -euo pipefail

VERSION="${LANNER_ES_VERSION:-8.19.21}"
PORT="${LANNER_ES_PORT:-9201}"
CACHE="${LANNER_CACHE:-$HOME/.cache/lanner}"
HOME_DIR="$CACHE/elasticsearch-$VERSION"
RUN_DIR="$CACHE/elasticsearch-run-$PORT"
URL="http://127.0.0.1:$PORT"
ES_USER="lanner-es"

log() { echo "[elasticsearch] $*" >&2; }

find_java17() {
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/java-17-openjdk /usr/lib/jvm/temurin-17-jdk-amd64; do
    if [[ -x "$d/bin/java" ]]; then echo "$d"; return; fi
  done
  if command -v java >/dev/null; then dirname "$(dirname "$(readlink -f "$(command -v java)")")"; return; fi
  log "no Java found: set ES_JAVA_HOME to a Java 17+ installation"; exit 2
}

answers() { curl -fsS -m 2 "$URL/_cluster/health" >/dev/null 2>&1; }

fetch() {
  if [[ -x "$HOME_DIR/bin/elasticsearch" ]]; then echo "$HOME_DIR"; return; fi
  mkdir -p "$CACHE"
  local tmp; tmp="$(mktemp -d "$CACHE/.fetch-XXXXXX")"
  log "fetching org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip from Maven Central"
  mvn -q -B dependency:copy \
    "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" \
    "-DoutputDirectory=$tmp" >&2
  (cd "$tmp" && unzip -q "elasticsearch-$VERSION.zip")
  rm -rf "$HOME_DIR"
  mv "$tmp/elasticsearch-$VERSION" "$HOME_DIR"
  rm -rf "$tmp"
  echo "$HOME_DIR"
}

ensure_user() {
  if [[ "$(id -u)" != "0" ]]; then return; fi
  if ! id "$ES_USER" >/dev/null 2>&1; then
    useradd -r -M -s /usr/sbin/nologin "$ES_USER"
  fi
}

start() {
  if answers; then echo "$URL"; return; fi
  mkdir -p "$CACHE"
  # Test files start in parallel: one of them starts the node, the others wait for it.
  exec 9>"$CACHE/elasticsearch-$PORT.lock"
  flock 9
  if answers; then echo "$URL"; return; fi
  fetch >/dev/null
  ensure_user
  local java_home; java_home="$(find_java17)"
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/data" "$RUN_DIR/logs" "$RUN_DIR/tmp"
  # The config directory is copied per run: ES writes a keystore into it, and the cache stays read-only.
  cp -r "$HOME_DIR/config" "$RUN_DIR/config"
  local run_as=()
  if [[ "$(id -u)" == "0" ]]; then
    chown -R "$ES_USER" "$RUN_DIR"
    chmod -R a+rX "$HOME_DIR"
    # The user must be able to reach the install and run folders through the cache's parents.
    local p="$CACHE"; while [[ "$p" != "/" ]]; do chmod o+x "$p" 2>/dev/null || true; p="$(dirname "$p")"; done
    run_as=(runuser -u "$ES_USER" --)
  fi
  log "starting $VERSION on $URL (java: $java_home, data: $RUN_DIR)"
  "${run_as[@]}" env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$RUN_DIR/config" ES_TMPDIR="$RUN_DIR/tmp" \
    ES_JAVA_OPTS="-Xms512m -Xmx512m" \
    "$HOME_DIR/bin/elasticsearch" -d -p "$RUN_DIR/es.pid" \
    -E discovery.type=single-node -E xpack.security.enabled=false -E xpack.ml.enabled=false \
    -E network.host=127.0.0.1 -E http.port="$PORT" -E transport.port=0 \
    -E path.data="$RUN_DIR/data" -E path.logs="$RUN_DIR/logs" \
    -E cluster.routing.allocation.disk.threshold_enabled=false \
    -E action.destructive_requires_name=false \
    >"$RUN_DIR/stdout.log" 2>&1 || { cat "$RUN_DIR/stdout.log" >&2; exit 1; }
  for _ in $(seq 1 180); do
    if curl -fsS -m 2 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
      echo "$URL"; return
    fi
    sleep 1
  done
  log "did not answer on $URL within 180 s; last log lines:"
  tail -n 40 "$RUN_DIR/logs/"*.log >&2 || true
  exit 1
}

stop() {
  if [[ -f "$RUN_DIR/es.pid" ]]; then
    local pid; pid="$(cat "$RUN_DIR/es.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
}

case "${1:-start}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "$URL"; else exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
