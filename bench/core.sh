#!/usr/bin/env bash
# The core benchmark (issues 2 and 8): one long article, five ways, on this machine, in one run.
#
#   (a)  one espeak-ng process over the whole text     espeak-ng -f corpus.txt -w a.wav
#   (b)  one espeak-ng per paragraph, xargs -P<cores>, then a sox concatenation
#   (c)  aloud convert --backend espeak-ng-process (one espeak-ng per paragraph, -j <cores>)
#   (c') aloud convert (the libespeak-ng engine: long-lived workers, -j <cores>)
#   (d)  aloud convert --backend mock
#
# aloud runs with --no-cache, so every run synthesizes everything. Prints wall time, CPU time
# (user+sys of the whole process tree) and memory for each (median of RUNS runs) and the
# ratios to (a) as a Markdown table. The runs go in rounds (a, b, c, c', d, then again). Memory is given twice: GNU time's peak RSS, which is
# that of the largest single process, and the peak of the whole process tree's proportional
# set size (PSS: shared pages split between the processes sharing them, so the sum is the
# tree's real footprint), sampled every 0.1 s in one extra, untimed run. Needs espeak-ng, libespeak-ng1, sox and GNU
# time (apt-get install espeak-ng sox time).
#
# Usage: bench/core.sh [PARAGRAPHS] [RUNS]      (defaults: 2000 paragraphs, 3 runs)
set -euo pipefail

PARAGRAPHS=${1:-2000}
RUNS=${2:-3}
CORES=$(nproc)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aloud-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require "apt-get install espeak-ng sox time" espeak-ng sox /usr/bin/time
aloud_binary
make_corpus "$PARAGRAPHS" "$WORK/corpus.txt"
mkdir -p "$WORK/paras"
awk -v dir="$WORK/paras" 'NF { f = sprintf("%s/%06d.txt", dir, ++i); print > f; close(f) }' "$WORK/corpus.txt"

# tree_pss PID: the total PSS (KiB) of PID and all its descendants now.
tree_pss() {
  local pids
  pids=$(ps -eo pid=,ppid= | awk -v root="$1" '{ parent[$1] = $2 } END {
    for (p in parent) { q = p; while (q != "" && q != root && q != 1 && q != 0) q = parent[q]; if (q == root) print p } }')
  # A process may end while it is being read: that is not an error.
  for p in $pids; do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true; done |
    awk '{ s += $1 } END { print s + 0 }'
}

# The five commands.
CMD_a=(espeak-ng -f "$WORK/corpus.txt" -w "$WORK/a.wav")
CMD_b=(sh -c "ls '$WORK'/paras/*.txt | xargs -P$CORES -I{} espeak-ng -f {} -w {}.wav && sox '$WORK'/paras/*.wav '$WORK/b.wav'")
CMD_c=("$ALOUD" convert -q -j "$CORES" --no-cache --backend espeak-ng-process "$WORK/corpus.txt" -o "$WORK/out")
CMD_l=("$ALOUD" convert -q -j "$CORES" --no-cache "$WORK/corpus.txt" -o "$WORK/out")
CMD_d=("$ALOUD" convert -q -j "$CORES" --no-cache --backend mock "$WORK/corpus.txt" -o "$WORK/out")
NAMES="a b c l d"

clean() { rm -rf "$WORK/out" "$WORK"/paras/*.wav "$WORK"/*.wav; }

# timed NAME: runs command NAME once under GNU time, appending "wall cpu rss_kib".
timed() {
  local -n argv="CMD_$1"
  clean
  timed_into "$1" "${argv[@]}"
}

# sampled NAME: runs command NAME once more, untimed, sampling the process tree's PSS. The
# sampler (ps and a read of every process's smaps every 0.1 s) costs CPU of its own, which on
# a small machine would slow the command it watches, so the timed runs are not sampled.
sampled() {
  local -n argv="CMD_$1"
  clean
  "${argv[@]}" >/dev/null 2>"$WORK/$1.err" &
  local pid=$! peak=0 now
  while kill -0 "$pid" 2>/dev/null; do
    now=$(tree_pss "$pid" || echo 0)
    if [ "$now" -gt "$peak" ]; then peak=$now; fi
    sleep 0.1
  done
  wait "$pid" || { echo "bench: $1 failed:" >&2; cat "$WORK/$1.err" >&2; exit 1; }
  echo "$peak" > "$WORK/$1.pss"
}


# Rounds of all five, so that a machine whose speed drifts during the run (a shared host,
# say) slows every command alike rather than whichever ran at the time.
for n in $NAMES; do : > "$WORK/$n.times"; done
for _ in $(seq "$RUNS"); do
  for n in $NAMES; do timed "$n"; done
done
for n in $NAMES; do sampled "$n"; done
clean

"$ALOUD" convert -q -j "$CORES" --no-cache --backend espeak-ng-process "$WORK/corpus.txt" -o "$WORK/out"
audio=$(awk '/"duration_seconds"/ { gsub(/,/, ""); print $2; exit }' "$WORK/out/corpus.json")

echo "Corpus: $PARAGRAPHS paragraphs, $(wc -c < "$WORK/corpus.txt") bytes, $(awk -v s="$audio" 'BEGIN { printf "%dh %02dm", s / 3600, s % 3600 / 60 }') of speech (espeak-ng $(espeak-ng --version | awk '{ print $4 }'))."
echo "Machine: $(machine); median of $RUNS runs."
echo
echo "| | command | wall (s) | CPU (s) | largest process RSS (MiB) | process tree PSS (MiB) | wall / (a) | CPU / (a) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
wa=$(col a 1)
ca=$(col a 2)
row() {
  local w c r p
  w=$(col "$1" 1); c=$(col "$1" 2); r=$(col "$1" 3); p=$(cat "$WORK/$1.pss")
  printf "| (%s) | %s | %.2f | %.2f | %.1f | %.1f | %s | %s |\n" "$3" "$2" "$w" "$c" "$(calc %.1f "$r / 1024")" \
    "$(calc %.1f "$p / 1024")" "$(calc %.3f "$w / $wa")" "$(calc %.3f "$c / $ca")"
}
row a "\`espeak-ng -f corpus.txt\` (one process)" a
row b "one \`espeak-ng\` per paragraph, \`xargs -P$CORES\` + \`sox\`" b
row c "\`aloud convert -j $CORES --backend espeak-ng-process\`" c
row l "\`aloud convert -j $CORES\` (libespeak-ng engine)" "c'"
row d "\`aloud convert -j $CORES --backend mock\`" d

# The same ratios round by round: each round's commands ran minutes apart, so a drift in the
# machine's speed between rounds cancels out of these, though not out of the medians above.
paired() { # paired COLUMN: (c') / (a) in each round, then their median
  local ratios
  ratios=$(paste -d' ' "$WORK/l.times" "$WORK/a.times" | awk -v c="$1" '{ printf "%.3f\n", $c / $(c + 3) }')
  echo "$(echo "$ratios" | paste -sd' ' | sed 's/ /, /g') (median $(echo "$ratios" | median))"
}
echo
echo "(c') / (a) in each round: CPU $(paired 2); wall $(paired 1)."
