#!/usr/bin/env bash
# Compares two msntap binaries on one capture in runs made in turn, the order alternating each
# round, so that both sides see the same minutes of a machine whose speed drifts (a shared
# virtual machine's did by a third to a half within an hour, far more than most changes
# move it). Prints the median of the rounds' ratios B/A of wall time with its quartiles, and
# each side's median wall and CPU (user + system) seconds. A ratio whose quartiles straddle 1
# is no difference this machine can show.
#   bench/ab.sh A B                          --summary on the 1 M capture, 20 rounds
#   ROUNDS=40 bench/ab.sh A B CAPTURE -j 1   other arguments of `read` replace --summary
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bench/ab.sh BINARY_A BINARY_B [CAPTURE [read arguments...]]" >&2
  exit 2
fi
a=$1 b=$2
shift 2
cap=${1:-${BENCH_DIR:-/tmp/msntap-bench}/gen-1000000.pcap}
[ $# -gt 0 ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--summary)
[ -f "$cap" ] || "$a" generate "$cap" --packets 1000000 2> /dev/null
rounds=${ROUNDS:-20}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# one BINARY: "wall cpu" of one run.
one() {
  /usr/bin/time -f "%e %U %S" -o "$out" "$1" read "$cap" --color never "${args[@]}" > /dev/null 2>&1 ||
    { echo "ab.sh: $1 read $cap ${args[*]} failed" >&2; return 1; }
  awk '{ printf "%s %.2f", $1, $2 + $3 }' "$out"
}

rows=()
for ((i = 0; i < rounds; i++)); do
  if ((i % 2)); then
    tb=$(one "$b")
    ta=$(one "$a")
  else
    ta=$(one "$a")
    tb=$(one "$b")
  fi
  rows+=("$ta $tb")
done
printf '%s\n' "${rows[@]}" | awk -v r="$rounds" -v args="${args[*]}" '
  function median(x, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
    return x[int((n + 1) / 2)]
  }
  { wa[NR] = $1; ca[NR] = $2; wb[NR] = $3; cb[NR] = $4; q[NR] = ($1 < 0.001 ? 0 : $3 / $1) }
  END {
    n = NR
    m = median(q, n)
    printf "B/A wall, %d rounds of read %s: median %.3f (quartiles %.3f to %.3f)\n", r, args, m, q[int((n + 3) / 4)], q[int((3 * n + 1) / 4)]
    printf "A: wall %.3f s, CPU %.2f s (medians)\n", median(wa, n), median(ca, n)
    printf "B: wall %.3f s, CPU %.2f s (medians)\n", median(wb, n), median(cb, n)
  }'
