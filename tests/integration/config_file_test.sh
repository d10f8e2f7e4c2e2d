#!/usr/bin/env bash
# A master and a chunkserver started from config files alone (--config, TOML), on loopback
# ports chosen at run time: the chunkserver registers (its master address, data directory and
# rack came from its file), and a flag on the command line wins over the file.
set -euo pipefail
BIN=$1
DIR=$(mktemp -d /tmp/ternion-config.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# Waits (bounded: 20 s) for a daemon's ready file; prints its address.
ready() {
  for _ in $(seq 200); do
    if [ -s "$1" ]; then
      sed -n 's/.*"address": *"\([^"]*\)".*/\1/p' "$1"
      return 0
    fi
    sleep 0.1
  done
  echo "no ready file $1" >&2
  cat "$DIR"/*.log >&2
  return 1
}

"$BIN/ternion-master" --format --metadata-dir "$DIR/meta" > "$DIR/format.log" 2>&1
"$BIN/ternion-master" --create-master-key "$DIR/master.key" > "$DIR/key.log" 2>&1
cat > "$DIR/master.toml" <<CONF
metadata-dir = "$DIR/meta"
master-key-file = "$DIR/master.key"
bootstrap-credentials = "$DIR/admin.profile"
host = "127.0.0.1"
port = 0
metrics-port = 0
ready-file = "$DIR/master.ready"
insecure = true
CONF
"$BIN/ternion-master" --config "$DIR/master.toml" > "$DIR/master.log" 2>&1 &
pids+=($!)
master=$(ready "$DIR/master.ready")

cat > "$DIR/chunkserver.toml" <<CONF
master = "$master"
data-dirs = "$DIR/d0"
rack = "rack-from-file"
host = "127.0.0.1"
port = 0
metrics-port = 0
heartbeat-interval = 0.3
disk-capacity-mib = 1024
ready-file = "$DIR/cs.ready"
insecure = true
CONF
"$BIN/ternion-chunkserver" --config "$DIR/chunkserver.toml" --rack rack-from-flag \
  > "$DIR/cs.log" 2>&1 &
pids+=($!)
ready "$DIR/cs.ready" > /dev/null

status() {
  "$BIN/ternion" --master "$master" --profile "$DIR/admin.profile" --insecure --json cluster status
}
for _ in $(seq 100); do  # bounded: 10 s
  if status | grep -q '"rack": "rack-from-flag"'; then break; fi
  sleep 0.1
done
status | grep -q '"live_servers": 1' || { echo "the chunkserver did not register"; status; exit 1; }
status | grep -q '"rack": "rack-from-flag"' || { echo "the flag did not win"; status; exit 1; }
if "$BIN/ternion-master" --config "$DIR/no-such.toml" > "$DIR/bad.log" 2>&1; then
  echo "a missing config file was accepted"
  exit 1
fi
printf 'metadata-dir = "%s"\nno-such-flag = 1\n' "$DIR/meta" > "$DIR/bad.toml"
if "$BIN/ternion-master" --config "$DIR/bad.toml" > "$DIR/bad.log" 2>&1; then
  echo "an unknown key in a config file was accepted"
  exit 1
fi
echo "config files OK"
