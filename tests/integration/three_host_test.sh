#!/usr/bin/env bash
# A three-host deployment from the packages and the shipped config files.
#
# Three network namespaces are the hosts 10.0.1.11, 10.0.2.11 and 10.0.3.11 of
# deploy/examples/three-rack-cluster.md (one rack each), joined by a bridge in a fourth
# namespace; nothing is added to the machine's own network. The built .deb packages are
# unpacked into one root that the hosts share (they share the file system, so each host's
# /etc/ternion, /var/lib/ternion and /data are directories under the test's own; the config
# files are the shipped ones with those paths moved). A master and chunkservers cs1..cs3 start
# from those config files (not from `ternion local up`), plus cs4 on host 2 so that a lost
# replica could be re-made elsewhere. A file is written and read; host 3 goes into
# maintenance, its chunkserver is killed, and no replica is re-made while the cluster waits
# several --dead-after periods; it comes back, leaves maintenance, and the cluster is
# HEALTH_OK with the same replicas. The master announces READY=1 to a systemd-style
# NOTIFY_SOCKET. Needs root (ip netns); SKIPPED (exit 77) otherwise.
set -euo pipefail
BUILD=$1
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
  echo "SKIPPED: needs root and iproute2 to create network namespaces"
  exit 77
fi
DIR=$(mktemp -d /tmp/ternion-hosts.XXXXXX)
NS=tn$$
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for n in h1 h2 h3 sw; do ip netns del "$NS-$n" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$DIR"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
on() { local host=$1; shift; ip netns exec "$NS-$host" "$@"; }

# The network: h1..h3 on one bridge.
ip netns add "$NS-sw"
ip -n "$NS-sw" link add br0 type bridge
ip -n "$NS-sw" link set br0 up
for i in 1 2 3; do
  ip netns add "$NS-h$i"
  ip -n "$NS-h$i" link add eth0 type veth peer name p$i netns "$NS-sw"
  ip -n "$NS-h$i" addr add "10.0.$i.11/16" dev eth0
  ip -n "$NS-h$i" link set eth0 up
  ip -n "$NS-h$i" link set lo up
  ip -n "$NS-sw" link set p$i master br0
  ip -n "$NS-sw" link set p$i up
done

# The packages' files.
(cd "$BUILD" && cpack -G DEB -B "$DIR/debs" >/dev/null)
for deb in "$DIR"/debs/ternion-{master,chunkserver,client}_*.deb; do dpkg -x "$deb" "$DIR/root"; done
BIN=$DIR/root/usr/bin
EXAMPLES=$DIR/root/usr/share/ternion/examples
# A host's copy of a shipped config file, its paths moved under the test's directory.
config() {  # host, shipped file, installed name
  mkdir -p "$DIR/$1/etc/tls" "$DIR/$1/var" "$DIR/$1/backups" "$DIR/$1/data"
  sed -e "s|/etc/ternion|$DIR/$1/etc|g" -e "s|/var/lib/ternion|$DIR/$1/var|g" \
      -e "s|/var/backups/ternion|$DIR/$1/backups|g" -e "s|/data/|$DIR/$1/data/|g" \
      "$EXAMPLES/$2" > "$DIR/$1/etc/$3"
}
config h1 master.toml master.toml
config h1 chunkserver-rack1.toml chunkserver.toml
config h2 chunkserver-rack2.toml chunkserver.toml
config h3 chunkserver-rack3.toml chunkserver.toml
# cs4: a second chunkserver on host 2, on its own ports, disks and certificate.
sed -e 's/7310/7320/; s/7311/7321/; s/cs2\./cs4./g; s|/data/d|/data/e|g' "$DIR/h2/etc/chunkserver.toml" \
  > "$DIR/h2/etc/chunkserver-cs4.toml"

# Certificates as the example says, then each host's share.
"$BIN/ternion" certs init "$DIR/tls" --host 10.0.1.11 --host 10.0.2.11 --host 10.0.3.11 \
  --chunkserver cs1 --chunkserver cs2 --chunkserver cs3 --chunkserver cs4 >/dev/null
for h in h1 h2 h3; do cp "$DIR/tls/ca.crt" "$DIR/$h/etc/tls/"; done
cp "$DIR"/tls/master.* "$DIR"/tls/cs1.* "$DIR/h1/etc/tls/"
cp "$DIR"/tls/cs2.* "$DIR"/tls/cs4.* "$DIR/h2/etc/tls/"
cp "$DIR"/tls/cs3.* "$DIR/h3/etc/tls/"

# Waits (at most 30 s) for a ready file.
await() { for _ in $(seq 300); do [ -s "$1" ] && return; sleep 0.1; done; fail "no $1"; }
start() {  # name, host, binary, config, extra flags...
  local name=$1 host=$2 bin=$3 conf=$4; shift 4
  rm -f "$DIR/$name.ready"
  # ip netns exec execs the daemon: $! is the daemon's PID.
  ip netns exec "$NS-$host" "$BIN/$bin" --config "$conf" --ready-file "$DIR/$name.ready" "$@" \
    > "$DIR/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
  await "$DIR/$name.ready"
}

# The master, formatted and keyed once as the example says; short timeouts so the test need
# not wait 30 s for a server to be dead (flags win over the config file).
"$BIN/ternion-master" --format --metadata-dir "$DIR/h1/var/master" >/dev/null
"$BIN/ternion-master" --create-master-key "$DIR/h1/etc/master.key" >/dev/null
python3 - "$DIR/notify.sock" "$DIR/notify.txt" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as out:
    out.write(s.recv(4096).decode() + "\n")
PY
PIDS+=($!)
for _ in $(seq 100); do [ -S "$DIR/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$DIR/notify.sock start master h1 ternion-master "$DIR/h1/etc/master.toml" \
  --dead-after 2 --suspect-after 1 --status-interval 0.5
for _ in $(seq 100); do [ -s "$DIR/notify.txt" ] && break; sleep 0.1; done
grep -q '^READY=1' "$DIR/notify.txt" || fail "the master did not notify READY=1"
start cs1 h1 ternion-chunkserver "$DIR/h1/etc/chunkserver.toml"
start cs2 h2 ternion-chunkserver "$DIR/h2/etc/chunkserver.toml"
start cs3 h3 ternion-chunkserver "$DIR/h3/etc/chunkserver.toml"
start cs4 h2 ternion-chunkserver "$DIR/h2/etc/chunkserver-cs4.toml"

export TERNION_PROFILE=$DIR/h1/var/admin.profile
cli() { on h1 "$BIN/ternion" "$@"; }
metric() { on h1 curl -sf http://10.0.1.11:7301/metrics | awk -v m="$1" '$1 == m {print $2}'; }
for _ in $(seq 100); do [ "$(metric ternion_master_live_chunkservers)" = 4 ] && break; sleep 0.2; done
[ "$(metric ternion_master_live_chunkservers)" = 4 ] || fail "4 chunkservers did not register"

cli project create ops >/dev/null
head -c 20000000 /dev/urandom > "$DIR/in"
cli put "$DIR/in" ops/data
cli cat ops/data | cmp - "$DIR/in" || fail "read back"
# /metrics shows the chunk map as of the master's last status walk (--status-interval).
for _ in $(seq 50); do [ "$(metric ternion_master_replicas)" = 3 ] && break; sleep 0.2; done
replicas=$(metric ternion_master_replicas)
[ "$replicas" = 3 ] || fail "expected 3 replicas of the one 20 MB chunk, not $replicas"

# Host 3 into maintenance; its chunkserver dies (kill -9: no graceful-stop grace). For three
# --dead-after periods nothing is re-made, though cs4 could take the replicas.
cli topology maintenance cs3 --for 30m >/dev/null
kill -9 "$PID_cs3"
for _ in $(seq 100); do
  [ "$(metric 'ternion_master_chunkserver_states{state="dead"}')" = 1 ] && break; sleep 0.1
done
[ "$(metric 'ternion_master_chunkserver_states{state="dead"}')" = 1 ] || fail "cs3 not dead: $(on h1 curl -sf http://10.0.1.11:7301/metrics | grep -E "states|maint")"
sleep 6
[ "$(metric 'ternion_master_replica_moves_total{reason="repair"}')" = 0 ] || fail "re-replicated"
[ "$(metric ternion_master_replica_moves_in_progress)" = 0 ] || fail "repairing"
cli cat ops/data | cmp - "$DIR/in" || fail "read while host 3 is away"
cli health > "$DIR/health-away.txt" && fail "health OK while cs3 is dead" || true

# Back, out of maintenance, and healthy with the same replicas.
start cs3 h3 ternion-chunkserver "$DIR/h3/etc/chunkserver.toml"
cli topology maintenance cs3 --end >/dev/null
for _ in $(seq 100); do cli health >/dev/null 2>&1 && break; sleep 0.2; done
cli health > "$DIR/health-after.txt" || fail "not HEALTH_OK after maintenance: $(cat "$DIR/health-after.txt")"
[ "$(metric 'ternion_master_replica_moves_total{reason="repair"}')" = 0 ] || fail "re-replicated"
cli cat ops/data | cmp - "$DIR/in" || fail "read after maintenance"
[ "$(metric ternion_master_replicas)" = "$replicas" ] || fail "replicas changed"
echo "three hosts OK"
