#!/usr/bin/env bash
# Builds msntap in release and prints one table: `msntap read` in summary mode, with the
# transcript to /dev/null, with --ndjson and with --json (each sharded over one worker per core,
# and with -j 1 on one thread), the ladder and the HTML report (packets/s, MB/s, peak RSS; the report's size and time against --summary), the same
# capture through capinfos -c (the floor of reading it), tshark -q -Y msnms, tshark -T json and
# tshark -V, each ratio with its target (issue 17), every ratio again from runs interleaved
# with their comparison (the same minutes on both sides), then the proxy's figures.
#   bench/run.sh                      1-million-packet capture
#   SIZES="1000000 10000000" bench/run.sh    also 10 million (tshark -T json skipped there)
#   PGO=1 bench/run.sh               the binary tools/pgo-build makes (profile-guided), with
#                                    the plain release build's --summary rows beside it
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-1000000}
DIR=${BENCH_DIR:-/tmp/msntap-bench}
mkdir -p "$DIR"
cargo build --release --quiet
BIN=$PWD/target/release/msntap
PLAIN=""
if [ "${PGO:-0}" = 1 ]; then
  PLAIN=$BIN
  BIN=$(tools/pgo-build | tail -1)
  echo "profile-guided build: $BIN"
fi
# The core-to-core round trip (bench/core-round-trip.c), when a C compiler is at hand and the
# machine has two CPUs or more.
RT=""
if command -v cc > /dev/null && [ "$(nproc)" -ge 2 ] && cc -O2 -pthread -o "$DIR/core-round-trip" bench/core-round-trip.c 2>/dev/null; then
  RT=$DIR/core-round-trip
fi
round_trip() {
  if [ -n "$RT" ]; then
    echo "core-to-core round trip (CPU 0 to 1 and back) $1: $("$RT") ns (under about 150 ns: the two share a cache)"
  else
    echo "(no C compiler or one CPU: core-to-core round trip not measured)"
  fi
}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# run LABEL PACKETS BYTES CMD... : prints a table row from /usr/bin/time's wall time (the median
# of $REPS runs) and peak RSS (the largest of them).
run() {
  local label=$1 packets=$2 bytes=$3; shift 3
  local times=() rss=0 i secs r
  for ((i = 0; i < REPS; i++)); do
    /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" > /dev/null 2> "$DIR/err.txt" || { echo "| $label | failed: $(tail -1 "$DIR/err.txt") |"; return; }
    read -r secs r < "$DIR/time.txt"
    times+=("$secs")
    [ "$r" -gt "$rss" ] && rss=$r
  done
  secs=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  awk -v l="$label" -v p="$packets" -v b="$bytes" -v s="$secs" -v r="$rss" -v n="$REPS" 'BEGIN {
    if (s < 0.01) s = 0.01;
    printf "| %-34s | %10.0f | %8.1f | %8.2f | %9.1f | %d |\n", l, p / s, b / s / 1e6, s, r / 1024, n }'
  echo "$secs" > "$DIR/last.txt"
}

# wall CMD...: the wall seconds of one run of CMD (its output discarded).
wall() {
  local TIMEFORMAT=%R
  { time "$@" > /dev/null 2>&1; } 2>&1
}
# mean A B: their mean.
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a + b) / 2 }'; }

# paired NAME TARGET ROUNDS: runs cmd_a then cmd_b, ROUNDS times in turn, and prints the median
# of the rounds' ratios (cmd_a's wall time over cmd_b's). The table's rows run minutes apart;
# a ratio whose two sides ran in the same seconds is the one the targets mean, as this
# machine's speed drifts from one quarter hour to the next.
paired() {
  local name=$1 target=$2 rounds=$3 i a b ratios=()
  for ((i = 0; i < rounds; i++)); do
    a=$(wall cmd_a)
    b=$(wall cmd_b)
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { if (b < 0.001) b = 0.001; printf "%.3f", a / b }')")
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v n="$name" -v t="$target" -v r="$rounds" '{ a[NR] = $1 }
    END { printf "ratio, interleaved: %s %.1f (median of %d rounds, %.1f to %.1f; target %s)\n", n, a[int((NR + 1) / 2)], r, a[1], a[NR], t }'
}

# around NAME TARGET ROUNDS: like `paired`, for a cmd_a that runs many times longer than cmd_b
# (tshark against msntap): each round runs cmd_b, cmd_a, cmd_b, and divides cmd_a's time by
# the mean of the two cmd_b runs around it, so that msntap's side is not one moment of a
# machine whose speed flips within seconds (docs/performance.md, "The Intel machine").
around() {
  local name=$1 target=$2 rounds=$3 i a b c ratios=()
  for ((i = 0; i < rounds; i++)); do
    b=$(wall cmd_b)
    a=$(wall cmd_a)
    c=$(wall cmd_b)
    ratios+=("$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { m = (b + c) / 2; if (m < 0.001) m = 0.001; printf "%.3f", a / m }')")
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v n="$name" -v t="$target" -v r="$rounds" '{ a[NR] = $1 }
    END { printf "ratio, around: %s %.1f (median of %d rounds, %.1f to %.1f; target %s)\n", n, a[int((NR + 1) / 2)], r, a[1], a[NR], t }'
}

for n in $SIZES; do
  cap="$DIR/gen-$n.pcap"
  [ -f "$cap" ] || "$BIN" generate "$cap" --packets "$n" 2>/dev/null
  bytes=$(stat -c %s "$cap")
  echo
  echo "capture: $n packets, $((bytes / 1000000)) MB ($cap)"
  # Runs under about 15 s are repeated three times (median time, largest RSS); longer ones once.
  REPS=1
  [ "$n" -le 1000000 ] && REPS=3
  round_trip "before the table"
  echo "| run                                | packets/s  | MB/s     | seconds  | peak RSS MiB | runs |"
  echo "|---|---|---|---|---|---|"
  run "msntap read --summary" "$n" "$bytes" "$BIN" read "$cap" --summary --color never; t_summary=$(cat "$DIR/last.txt")
  run "msntap read --summary -j 1" "$n" "$bytes" "$BIN" read "$cap" --summary --color never -j 1; t_summary1=$(cat "$DIR/last.txt")
  if [ -n "$PLAIN" ]; then
    run "plain build: read --summary" "$n" "$bytes" "$PLAIN" read "$cap" --summary --color never
    run "plain build: read --summary -j 1" "$n" "$bytes" "$PLAIN" read "$cap" --summary --color never -j 1
  fi
  run "msntap read (transcript)" "$n" "$bytes" "$BIN" read "$cap" --color never; t_text=$(cat "$DIR/last.txt")
  run "msntap read --summary --ndjson" "$n" "$bytes" "$BIN" read "$cap" --summary --ndjson /dev/null; t_ndjson=$(cat "$DIR/last.txt")
  run "msntap read --summary --json" "$n" "$bytes" "$BIN" read "$cap" --summary --json /dev/null; t_json=$(cat "$DIR/last.txt")
  run "msntap read (transcript) -j 1" "$n" "$bytes" "$BIN" read "$cap" --color never -j 1
  run "msntap read --summary --ndjson -j 1" "$n" "$bytes" "$BIN" read "$cap" --summary --ndjson /dev/null -j 1
  run "msntap read --summary --json -j 1" "$n" "$bytes" "$BIN" read "$cap" --summary --json /dev/null -j 1
  run "msntap ladder" "$n" "$bytes" "$BIN" ladder "$cap" --width 120 --color never
  run "msntap report" "$n" "$bytes" "$BIN" report "$cap" -o "$DIR/report.html"; t_report=$(cat "$DIR/last.txt")
  # Both sharded over the same workers.
  awk -v a="$t_report" -v b="$t_summary" -v s="$(stat -c %s "$DIR/report.html")" 'BEGIN {
    printf "report: %.1f MB, %.1f times the time of --summary (targets: under 25 MiB, at most 5)\n", s / 1e6, a / b }'
  # ratio NAME A B TARGET: "NAME: A/B (target TARGET)".
  ratio() { awk -v n="$1" -v a="$2" -v b="$3" -v t="$4" 'BEGIN { if (b < 0.01) b = 0.01; printf "ratio: %s %.1f (target %s)\n", n, a / b, t }'; }
  round_trip "after the table"
  if command -v capinfos > /dev/null; then
    run "capinfos -c (reading the file)" "$n" "$bytes" capinfos -c "$cap"; t_cap=$(cat "$DIR/last.txt")
    ratio "--summary takes capinfos -c times" "$t_summary" "$t_cap" "at most 2.5"
    cmd_a() { "$BIN" read "$cap" --summary --color never; }
    cmd_b() { capinfos -c "$cap"; }
    paired "--summary takes capinfos -c times" "at most 2.5" 7
    round_trip "after those rounds"
    if [ -n "$PLAIN" ]; then
      cmd_a() { "$PLAIN" read "$cap" --summary --color never; }
      paired "plain build: --summary takes capinfos -c times" "at most 2.5" 7
    fi
  fi
  if command -v tshark > /dev/null; then
    run "tshark -q -Y msnms" "$n" "$bytes" tshark -r "$cap" -q -Y msnms; t_tq=$(cat "$DIR/last.txt")
    ratio "tshark -q -Y msnms / --summary" "$t_tq" "$t_summary" "at least 25"
    if [ "$n" -le 1000000 ]; then
      cmd_a() { tshark -r "$cap" -q -Y msnms; }
      cmd_b() { "$BIN" read "$cap" --summary --color never; }
      around "tshark -q -Y msnms / --summary" "at least 25" 5
      round_trip "after those rounds"
      # msntap's side of these three is timed just before and just after each tshark run,
      # which takes minutes: the ratio is to the mean of the two.
      nd1=$(wall "$BIN" read "$cap" --summary --ndjson /dev/null); js1=$(wall "$BIN" read "$cap" --summary --json /dev/null)
      REPS=1 run "tshark -T json" "$n" "$bytes" tshark -r "$cap" -T json; t_tj=$(cat "$DIR/last.txt")
      nd2=$(wall "$BIN" read "$cap" --summary --ndjson /dev/null); js2=$(wall "$BIN" read "$cap" --summary --json /dev/null)
      tx1=$(wall "$BIN" read "$cap" --color never)
      REPS=1 run "tshark -V" "$n" "$bytes" tshark -r "$cap" -V; t_tv=$(cat "$DIR/last.txt")
      tx2=$(wall "$BIN" read "$cap" --color never)
      ratio "tshark -T json / --ndjson (the table's rows)" "$t_tj" "$t_ndjson" "at least 60"
      ratio "tshark -T json / --json (the table's rows)" "$t_tj" "$t_json" "at least 20"
      ratio "tshark -V / transcript (the table's rows)" "$t_tv" "$t_text" "at least 20"
      ratio "around: tshark -T json / --ndjson ($nd1 s before, $nd2 s after)" "$t_tj" "$(mean "$nd1" "$nd2")" "at least 60"
      ratio "around: tshark -T json / --json ($js1 s before, $js2 s after)" "$t_tj" "$(mean "$js1" "$js2")" "at least 20"
      ratio "around: tshark -V / transcript ($tx1 s before, $tx2 s after)" "$t_tv" "$(mean "$tx1" "$tx2")" "at least 20"
    fi
  else
    echo "(tshark not installed: no comparison)"
  fi
done

# Adversarial TrIDs: 500,000 requests, pipelined 50,000 at a time, whose ten-digit TrIDs are multiples of 65,536
# (low 16 bits zero) against sequential ones of the same length; a hash no peer can make
# degenerate keeps the two within 1.5x.
echo
echo "open-request table: 500,000 requests pipelined 50,000 at a time"
echo "| run                                | packets/s  | MB/s     | seconds  | peak RSS MiB | runs |"
echo "|---|---|---|---|---|---|"
for step in 1 65536; do
  cap="$DIR/trid-$step.pcap"
  [ -f "$cap" ] || "$BIN" generate "$cap" --trid-stress 500000 --trid-step "$step" 2>/dev/null
  packets=$("$BIN" read "$cap" --summary --color never 2>/dev/null | tail -1 | sed -E 's/.*: ([0-9]+) packets.*/\1/')
  REPS=3 run "msntap read --summary, TrID step $step" "$packets" "$(stat -c %s "$cap")" "$BIN" read "$cap" --summary --color never
  eval "t_step_$step=\$(cat \"\$DIR/last.txt\")"
done
# The same requests in the transcript: the mode that holds the most for each open request.
REPS=3 run "msntap read (transcript), TrID step 1" "$packets" "$(stat -c %s "$DIR/trid-1.pcap")" "$BIN" read "$DIR/trid-1.pcap" --color never
awk -v a="$t_step_65536" -v b="$t_step_1" 'BEGIN { if (b < 0.01) b = 0.01; printf "ratio: multiples of 65,536 take %.2f times as long as sequential TrIDs (target at most 1.5)\n", a / b }'

echo
echo "proxy (testkit clients on loopback, analysis running):"
cargo bench --quiet --bench proxy -- ${PROXY_ARGS:-}
