#!/usr/bin/env bash
# Debian's Prometheus server, on loopback, with the shipped scrape config (its targets pointed
# at a local cluster, its interval shortened) and the shipped alerting rules, scraping a
# local three-rack cluster; the replication-state and throughput series are read back through
# Prometheus's HTTP API.
set -euo pipefail
BIN=$1
SRC=$2
DIR=$(mktemp -d /tmp/ternion-prometheus.XXXXXX)
PROM_PID=
cleanup() {
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  "$BIN/ternion" local down --dir "$DIR/cluster" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$DIR/prometheus.log" ] && tail -20 "$DIR/prometheus.log"; exit 1; }

"$BIN/ternion" local up --dir "$DIR/cluster" --racks 3 --per-rack 1 >/dev/null
source "$DIR/cluster/cluster.env"
export TERNION_MASTER TERNION_PROFILE
"$BIN/ternion" project create m
head -c 5000000 /dev/urandom > "$DIR/in"
"$BIN/ternion" put "$DIR/in" m/file

# cluster.json lists the master first, then the chunkservers of rack1, rack2, rack3.
read -r -a ports <<< "$(grep -o '"metrics_port": [0-9]*' "$DIR/cluster/cluster.json" | awk '{print $2}' | tr '\n' ' ')"
sed -e "s/10.0.1.11:7301/127.0.0.1:${ports[0]}/" -e "s/10.0.1.11:7311/127.0.0.1:${ports[1]}/" \
    -e "s/10.0.2.11:7311/127.0.0.1:${ports[2]}/" -e "s/10.0.3.11:7311/127.0.0.1:${ports[3]}/" \
    -e 's/scrape_interval: 15s/scrape_interval: 1s/' \
    "$SRC/deploy/prometheus/prometheus.yml" > "$DIR/prometheus.yml"
cp "$SRC/deploy/prometheus/alerts.yml" "$DIR/alerts.yml"
promtool check config "$DIR/prometheus.yml" >/dev/null || fail "promtool check config"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
  --web.listen-address="127.0.0.1:$port" > "$DIR/prometheus.log" 2>&1 &
PROM_PID=$!
API="http://127.0.0.1:$port/api/v1"

# The first value of an instant query (empty while it has none).
query() {
  curl -sf --get "$API/query" --data-urlencode "query=$1" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
# Waits (at most 30 s: scrapes are 1 s apart) until query $1's value v meets python condition $2.
expect() {
  local v=
  for _ in $(seq 60); do
    v=$(query "$1")
    if [ -n "$v" ] && python3 -c "import sys; v = float(sys.argv[1]); sys.exit(0 if ($2) else 1)" "$v"; then
      echo "$1 = $v"
      return
    fi
    sleep 0.5
  done
  fail "$1 = '$v', expected $2"
}
expect 'count(up{job=~"ternion-.*"} == 1)' 'v == 4'
expect 'ternion_master_live_chunkservers' 'v == 3'
expect 'ternion_master_chunks{state="healthy"}' 'v >= 1'
expect 'ternion_master_chunks{state="under_replicated"}' 'v == 0'
expect 'ternion_master_chunks_placement{state="rack_unsafe"}' 'v == 0'
expect 'ternion_master_replication_paused' 'v == 0'
expect 'sum(ternion_chunkserver_written_bytes_total)' 'v == 15000000'
expect 'count(ternion_chunkserver_written_bytes_total{rack=~"rack[123]"})' 'v == 3'
# Throughput: a second file's bytes appear as a rate over the scrapes that saw them arrive.
"$BIN/ternion" put "$DIR/in" m/file2
expect 'sum(ternion_chunkserver_written_bytes_total)' 'v == 30000000'
expect 'sum(increase(ternion_chunkserver_written_bytes_total[1m]))' 'v > 0'
# The shipped rules are loaded, and none fires on a healthy cluster.
curl -sf "$API/rules" | python3 -c 'import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
assert len(rules) >= 10, len(rules)
firing = [r["name"] for r in rules if r.get("state") == "firing"]
assert not firing, firing' || fail "alerting rules"
echo "prometheus OK"
