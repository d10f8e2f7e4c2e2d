#!/usr/bin/env bash
# The master's status page as a person sees it: headless Chromium loads it from a local
# three-rack cluster with data and one server in maintenance, prints it to PDF (the text read
# back is what the page shows, laid out) and takes a screenshot, kept as OUT/status_page.png.
set -euo pipefail
BIN=$1
OUT=$2
DIR=$(mktemp -d /tmp/ternion-status.XXXXXX)
cleanup() { "$BIN/ternion" local down --dir "$DIR/cluster" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$DIR/page.txt" ] && cat "$DIR/page.txt"; exit 1; }
command -v chromium >/dev/null || { echo "SKIPPED: no chromium"; exit 77; }

"$BIN/ternion" local up --dir "$DIR/cluster" --racks 3 --per-rack 1 >/dev/null
source "$DIR/cluster/cluster.env"
export TERNION_MASTER TERNION_PROFILE
"$BIN/ternion" project create web
head -c 3000000 /dev/urandom > "$DIR/in"
"$BIN/ternion" put "$DIR/in" web/file
server=$("$BIN/ternion" cluster status | grep -o 'cs-rack2-[0-9]*' | head -1)
[ -n "$server" ] || fail "no rack2 server in cluster status"
"$BIN/ternion" topology maintenance "$server" --for 2h >/dev/null
port=$(grep -o '"metrics_port": [0-9]*' "$DIR/cluster/cluster.json" | head -1 | awk '{print $2}')
URL="http://127.0.0.1:$port/status"
# The master's counts are refreshed by its status walk; wait until the page shows the file.
for _ in $(seq 50); do
  curl -sf "$URL" > "$DIR/page.html" || true
  grep -q 'HEALTH_WARN' "$DIR/page.html" && break
  sleep 0.2
done

browse() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$DIR/chromium" --window-size=1200,1400 "$@" "$URL" >>"$DIR/chromium.log" 2>&1
}
browse --print-to-pdf="$DIR/page.pdf" --no-pdf-header-footer || fail "chromium could not print the page"
browse --screenshot="$OUT/status_page.png" || fail "chromium could not take a screenshot"
pdftotext -layout "$DIR/page.pdf" "$DIR/page.txt"

# What a person reads, in order: the verdict and why, each rack's servers, the chunk counts,
# replication and the wipe backlog.
see() { grep -E "$1" "$DIR/page.txt" >/dev/null || fail "the page does not show: $1"; }
see 'Ternion cluster status'
see 'HEALTH_WARN'
see 'MAINTENANCE'
see 'Chunkservers: 3 live of 3'
for rack in rack1 rack2 rack3; do see "Rack $rack"; done
see "$server .* maintenance for 1h59m"
see 'Chunks +1'
see 'Under-replicated +0'
see 'Replication +running'
see 'Bytes awaiting wipe +0 ?B'
order=$(grep -nE 'HEALTH_WARN|Rack rack1|Rack rack3|^ *Chunks +1|Replication +running|Garbage collection' \
  "$DIR/page.txt" | cut -d: -f1 | tr '\n' ' ')
sorted=$(echo "$order" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
[ "$order" = "$sorted" ] || fail "sections out of order: $order"
[ "$(stat -c %s "$OUT/status_page.png")" -gt 20000 ] || fail "the screenshot is (nearly) empty"
echo "status page OK; screenshot: $OUT/status_page.png"
