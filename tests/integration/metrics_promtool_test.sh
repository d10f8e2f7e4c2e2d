#!/usr/bin/env bash
# Starts a local cluster, moves some data, and validates every daemon's /metrics with the real
# `promtool check metrics`, plus the presence of the core metric families and of every metric
# the shipped alerting rules name.
set -euo pipefail
BIN=$1
SRC=$2
DIR=$(mktemp -d /tmp/ternion-metrics.XXXXXX)
cleanup() { "$BIN/ternion" local down --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT

"$BIN/ternion" local up --dir "$DIR" --racks 3 --per-rack 1 >/dev/null
source "$DIR/cluster.env"
export TERNION_MASTER TERNION_PROFILE
"$BIN/ternion" project create m
head -c 3000000 /dev/urandom > "$DIR/in"
"$BIN/ternion" put "$DIR/in" m/file
"$BIN/ternion" cat m/file | cmp - "$DIR/in"

# cluster.json lists the master first, then the chunkservers.
ports=$(grep -o '"metrics_port": [0-9]*' "$DIR/cluster.json" | awk '{print $2}' | tr '\n' ' ')
ports=${ports% }
master_port=${ports%% *}
for port in $ports; do
  curl -sf "http://127.0.0.1:$port/metrics" > "$DIR/metrics.$port"
  promtool check metrics < "$DIR/metrics.$port"
done
m="$DIR/metrics.$master_port"
for name in ternion_master_live_chunkservers ternion_master_chunks ternion_master_replicas \
            ternion_master_rpcs_total ternion_master_rpc_duration_seconds_bucket; do
  grep -q "^$name" "$m" || { echo "missing $name in master metrics"; exit 1; }
done
grep -q '^ternion_master_live_chunkservers 3$' "$m" || { echo "expected 3 live chunkservers"; exit 1; }
written=0
for port in ${ports#* }; do
  f="$DIR/metrics.$port"
  for name in ternion_chunkserver_written_bytes_total ternion_chunkserver_read_bytes_total \
              ternion_chunkserver_replicas ternion_chunkserver_rpc_duration_seconds_bucket; do
    grep -q "^$name" "$f" || { echo "missing $name on port $port"; exit 1; }
  done
  w=$(awk '/^ternion_chunkserver_written_bytes_total /{print $2}' "$f")
  written=$((written + w))
done
# Three replicas of 3,000,000 bytes were made durable.
[ "$written" -eq 9000000 ] || { echo "written bytes $written != 9000000"; exit 1; }
# Every metric the alerting rules and the Grafana dashboard name is exported (the dashboard
# is valid JSON, and each of its panels has a query).
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"] and all(t["expr"] for p in d["panels"] for t in p["targets"])' \
  "$SRC/deploy/grafana/ternion.json"
for file in deploy/prometheus/alerts.yml deploy/grafana/ternion.json; do
  for name in $(grep -oE '(ternion|process)_[a-z_]+' "$SRC/$file" | sort -u); do
    grep -qh "^$name[{ ]" "$DIR"/metrics.* || { echo "$file names $name, which no daemon exports"; exit 1; }
  done
done
grep -q '^ternion_master_health_status 0$' "$m" || { echo "expected HEALTH_OK"; exit 1; }
# What every Prometheus client exports, on every daemon, with plausible values.
version=$("$BIN/ternion-master" --version | sed 's/.* \([0-9.]*\) (commit \(.*\))/\1 \2/')
for f in "$DIR"/metrics.*; do
  grep -q "^ternion_build_info{commit=\"${version#* }\",version=\"${version% *}\"} 1$" "$f" \
    || { echo "no build info in $f"; exit 1; }
  awk '/^process_resident_memory_bytes /{ok = $2 > 1e6} END{exit !ok}' "$f" \
    || { echo "resident memory in $f"; exit 1; }
  awk '/^process_open_fds /{ok = $2 >= 3} END{exit !ok}' "$f" || { echo "open fds in $f"; exit 1; }
  awk -v now="$(date +%s)" '/^process_start_time_seconds /{ok = $2 > now - 600 && $2 <= now + 1}
    END{exit !ok}' "$f" || { echo "start time in $f"; exit 1; }
  grep -q '^process_cpu_seconds_total ' "$f" || { echo "cpu seconds in $f"; exit 1; }
  grep -q '^process_max_fds ' "$f" || { echo "max fds in $f"; exit 1; }
done
echo "metrics OK"
