#!/usr/bin/env bash
# A local Apache Kafka (KRaft, one node that is broker and controller) on 127.0.0.1, for tests and
# development on machines without Docker. Kafka's jars come from Maven Central through Maven into a
# cache outside the repository: ${LANNER_CACHE:-$HOME/.cache/lanner}/kafka-<version>.
#
#   scripts/kafka.sh fetch    download Kafka and its runtime dependencies (once)
#   scripts/kafka.sh start    start the node unless one is already running; prints its bootstrap
#                             address (127.0.0.1:PORT) on stdout when it accepts connections
#   scripts/kafka.sh status   prints the address and exits 0 when running, exits 1 otherwise
#   scripts/kafka.sh stop     stops the node started from this cache
#   scripts/kafka.sh reset    stops it and deletes its data (the jars stay)
#
# Environment: KAFKA_VERSION (default 4.1.1), LANNER_CACHE, KAFKA_HEAP (default -Xmx512m).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
SLF4J_VERSION="2.0.17"
CACHE="${LANNER_CACHE:-$HOME/.cache/lanner}/kafka-${KAFKA_VERSION}"
LIB="$CACHE/lib"
RUN="$CACHE/run"
HEAP="${KAFKA_HEAP:--Xmx512m}"

log() { echo "kafka.sh: $*" >&2; }
# shellcheck source=lib/service.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  mkdir -p "$CACHE/pom"
  # A throwaway project whose only purpose is to let Maven resolve Kafka's runtime classpath.
  cat >"$CACHE/pom/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.lanner</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>${SLF4J_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
EOF
  log "fetching org.apache.kafka:kafka_2.13:${KAFKA_VERSION} and its runtime dependencies with Maven"
  rm -rf "$LIB.tmp"
  mvn -q -B -Dstyle.color=never -f "$CACHE/pom/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >&2
  # Two slf4j bindings would make slf4j pick one at random and warn: keep slf4j-simple only.
  find "$LIB.tmp" -name 'log4j-slf4j*-impl-*.jar' -delete
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
  touch "$LIB/.complete"
}

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() {
  [ -f "$RUN/pid" ] && [ -f "$RUN/port" ] || return 1
  local pid port
  pid="$(cat "$RUN/pid")"
  port="$(cat "$RUN/port")"
  kill -0 "$pid" 2>/dev/null && accepts "$port" && grep -q "Kafka Server started" "$RUN/server.log" 2>/dev/null
}

start() {
  fetch
  mkdir -p "$RUN"
  # One starter at a time per cache (parallel test files all call this).
  exec 9>"$RUN/lock"
  flock 9
  if running; then
    echo "127.0.0.1:$(cat "$RUN/port")"
    return 0
  fi
  # A node that runs but does not answer: replace it.
  end_unanswering
  local port cport cluster
  port="$(free_port)"
  cport="$(free_port)"
  while [ "$cport" = "$port" ]; do cport="$(free_port)"; done
  rm -rf "$RUN/data"
  cat >"$RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${RUN}/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
message.max.bytes=16777216
auto.create.topics.enable=false
log.retention.check.interval.ms=1000
log.segment.delete.delay.ms=0
EOF
  cluster="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  java -cp "$LIB/*" kafka.tools.StorageTool format -t "$cluster" -c "$RUN/server.properties" >"$RUN/format.log" 2>&1 \
    || { cat "$RUN/format.log" >&2; log "formatting the KRaft directory failed"; exit 1; }
  : >"$RUN/server.log"
  # setsid: the node outlives the shell (and the test run) that started it; later runs reuse it.
  setsid nohup java $HEAP -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn \
    -Dorg.slf4j.simpleLogger.log.kafka=warn -Dorg.slf4j.simpleLogger.log.state.change.logger=warn \
    -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info \
    -cp "$LIB/*" kafka.Kafka "$RUN/server.properties" >>"$RUN/server.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/pid"
  echo "$port" >"$RUN/port"
  for _ in $(seq 1 1200); do
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      tail -n 40 "$RUN/server.log" >&2
      log "Kafka exited during start-up (log: $RUN/server.log)"
      exit 1
    fi
    if accepts "$port" && grep -q "Kafka Server started" "$RUN/server.log"; then
      echo "127.0.0.1:${port}"
      return 0
    fi
    sleep 0.1
  done
  log "Kafka did not accept connections within 120 s (log: $RUN/server.log)"
  exit 1
}

case "${1:-start}" in
  fetch) fetch ;;
  start) start ;;
  status) if running; then echo "127.0.0.1:$(cat "$RUN/port")"; else exit 1; fi ;;
  stop) stop ;;
  reset) stop; rm -rf "$RUN" ;;
  *) log "usage: scripts/kafka.sh fetch|start|status|stop|reset"; exit 2 ;;
esac
