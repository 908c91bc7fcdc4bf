#!/usr/bin/env bash
# Interleaved A/B rounds of WARP proxies, for changes too small for a full proxy-bench.sh run:
# every round starts each proxy afresh on CPU 1 (nginx and wrk on CPU 0, as proxy-bench.sh pins
# them), warms it for 1 s, loads it for SECS, and prints req/s, CPU (user + system) per request
# and peak RSS. Rounds alternate the proxies, so a slow phase of this VM hits them all.
#   bench/ab.sh SIZE CONNS SECS ROUNDS label 'command with {port}' [label 'command' ...]
#   bench/ab.sh 1k 50 5 4 tulip 'node dist/examples/warp-proxy/main.js --min-headers 3 --port {port}' \
#                         raw 'node ../shared/bench/peers/raw_proxy.mjs --port {port}'
# TOGETHER=1 runs the proxies of a round at the same time instead, all on CPU 1, each under its
# own wrk (warmed 3 s together), starting them in a rotated order each round: CFS shares the CPU
# between them, so their req/s ratio is their CPU-per-request ratio measured in one window, and
# this VM's phases (which move a lone run by +-30% from one minute to the next) cancel out.
# The last column is each proxy's req/s over the first one's.
# SIZE is 1k or 100k; nginx is started on 127.0.0.1:28080 with its files in /tmp/ab-www, and left
# running for the next call (stop it: kill $(cat /tmp/ab-www/nginx.pid)).
set -u
[ $# -ge 6 ] || { sed -n '2,10p' "$0"; exit 2; }
size=$1 conns=$2 secs=$3 rounds=$4; shift 4
lua=$(cd "$(dirname "$0")/../../shared/bench/peers" 2>/dev/null && pwd)/wrk_proxy.lua
[ -f "$lua" ] || { echo "ab.sh: wrk_proxy.lua not found beside the project (../shared/bench/peers)"; exit 1; }
www=/tmp/ab-www
if ! ss -Hltn 'sport = :28080' | grep -q .; then
  mkdir -p $www/logs
  [ -f $www/1k.bin ] || head -c 1024 /dev/urandom >$www/1k.bin
  [ -f $www/100k.bin ] || head -c 102400 /dev/urandom >$www/100k.bin
  cat >$www/nginx.conf <<CONF
worker_processes 1; daemon on; pid $www/nginx.pid; error_log $www/logs/error.log warn;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path $www/t; proxy_temp_path $www/t; fastcgi_temp_path $www/t;
  uwsgi_temp_path $www/t; scgi_temp_path $www/t; sendfile on; tcp_nodelay on; open_file_cache max=16;
  server { listen 127.0.0.1:28080 backlog=4096; root $www; } }
CONF
  taskset -c 0 nginx -c $www/nginx.conf || exit 1
fi
declare -a labels cmds
while [ $# -gt 0 ]; do labels+=("$1"); cmds+=("$2"); shift 2; done
ticks() { local q s=0 v; for q in $(pgrep -g "$1"); do v=$(awk '{print $14 + $15}' /proc/$q/stat 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
hwm() { local q s=0 v; for q in $(pgrep -g "$1"); do v=$(awk '/^VmHWM/{print $2}' /proc/$q/status 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
load() { WARP_TARGET=http://127.0.0.1:28080/$size.bin WARP_HOST=127.0.0.1:28080 taskset -c 0 wrk -t1 -c"$conns" -d"$1"s -s "$lua" "http://127.0.0.1:$2/" 2>&1 | grep '^{'; }
hz=$(getconf CLK_TCK)
report() { # label json-line ticks peak-kib -> label=req/s/cpu-per-request/peakM
  echo "$1=$(echo "$2" | T=$3 HZ=$hz node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const j = JSON.parse(s), e = j.err_connect + j.err_read + j.err_write + j.err_status + j.err_timeout;
      const cpu = Number(process.env.T) / Number(process.env.HZ) * 1e6 / j.requests;
      process.stdout.write(`${(j.requests / j.duration_us * 1e6).toFixed(0)}${e ? `(e${e})` : ""}/${cpu.toFixed(0)}us`); });')/$(($4 / 1024))M"
}
rate() { local r=${1#*\"requests\":} d=${1#*\"duration_us\":}; awk -v r="${r%%,*}" -v d="${d%%,*}" 'BEGIN { print r / d * 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
start() { # index -> pid of the proxy's process group, once it listens
  local port=$((29000 + $1))
  local cmd=${cmds[$1]//\{port\}/$port}
  # Output to files, as proxy-bench.sh keeps it: a proxy's per-request log line costs a write
  # there, and /dev/null would hide it.
  WARP_DELAY_SCALE=0 setsid taskset -c 1 bash -c "exec $cmd" >$www/proxy.$1.out 2>$www/proxy.$1.err &
  local pid=$!
  for k in $(seq 1 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.05; done
  echo $pid
}
stop() { kill -TERM -- -"$1" 2>/dev/null; for k in $(seq 1 200); do kill -0 "$1" 2>/dev/null || return; sleep 0.05; done; kill -KILL -- -"$1" 2>/dev/null; }
n=${#labels[@]}
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  if [ "${TOGETHER:-0}" = 1 ]; then
    declare -a pids t0
    for k in $(seq 0 $((n - 1))); do i=$(( (k + r - 1) % n )); pids[$i]=$(start $i); done
    for i in "${!labels[@]}"; do load 3 $((29000 + i)) >/dev/null & done; wait $(jobs -p)
    for i in "${!labels[@]}"; do t0[$i]=$(ticks ${pids[$i]}); done
    for i in "${!labels[@]}"; do load "$secs" $((29000 + i)) >/tmp/ab-www/out.$i & done; wait $(jobs -p)
    first=""
    for i in "${!labels[@]}"; do
      t1=$(ticks ${pids[$i]}); peak=$(hwm ${pids[$i]}); out=$(cat /tmp/ab-www/out.$i)
      stop ${pids[$i]}
      rps=$(rate "$out"); first=${first:-$rps}
      line="$line $(report "${labels[$i]}" "$out" $((t1 - t0[$i])) $peak)($(ratio "$rps" "$first")x)"
    done
  else
    for i in "${!labels[@]}"; do
      pid=$(start $i); port=$((29000 + i))
      load 1 $port >/dev/null
      t0=$(ticks $pid)
      out=$(load "$secs" $port)
      t1=$(ticks $pid); peak=$(hwm $pid)
      stop $pid
      line="$line $(report "${labels[$i]}" "$out" $((t1 - t0)) $peak)"
    done
  fi
  echo "$line"
done
