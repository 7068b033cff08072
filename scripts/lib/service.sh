# Shared by the scripts that run a local server from a cache directory: each keeps the server's
# pid and port in "$RUN/pid" and "$RUN/port". Source it after setting RUN.

# A free TCP port on 127.0.0.1.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Ends process $1: SIGTERM, up to $2 tenths of a second for it to go, then SIGKILL.
end_process() {
  local pid="$1" tenths="$2"
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# Before a start: a server of this cache that runs but does not answer is replaced.
end_unanswering() {
  if [ -f "$RUN/pid" ]; then end_process "$(cat "$RUN/pid")" 100; fi
}

# Stops the server started from this cache and forgets its pid and port.
stop() {
  [ -f "$RUN/pid" ] || return 0
  end_process "$(cat "$RUN/pid")" 300
  rm -f "$RUN/pid" "$RUN/port"
}
