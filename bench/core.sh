#!/usr/bin/env bash
# The core benchmark (issue 2): one long article, four ways, on this machine, in one run.
#
#   (a) one espeak-ng process over the whole text     espeak-ng -f corpus.txt -w a.wav
#   (b) one espeak-ng per paragraph, xargs -P<cores>, then a sox concatenation
#   (c) aloud convert (espeak-ng backend, -j <cores>)
#   (d) aloud convert --backend mock
#
# Prints wall time, CPU time (user+sys) and peak RSS for each (median of RUNS runs) and the
# ratios c/a and d/a as a Markdown table. Needs espeak-ng, sox and GNU time
# (apt-get install espeak-ng sox time).
#
# Usage: bench/core.sh [PARAGRAPHS] [RUNS]      (defaults: 2000 paragraphs, 3 runs)
set -euo pipefail

PARAGRAPHS=${1:-2000}
RUNS=${2:-3}
CORES=$(nproc)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aloud-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

for tool in espeak-ng sox /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required (apt-get install espeak-ng sox time)" >&2; exit 1; }
done

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
ALOUD="$ROOT/target/release/aloud"

# The corpus: the sample article's paragraphs (minus its player-fallback line), numbered and
# cycled, one blank line between paragraphs.
awk -v n="$PARAGRAPHS" 'NR > 1 && NF { p[++k] = $0 }
  END { for (i = 1; i <= n; i++) { if (i > 1) print ""; printf "Paragraph %d. %s\n", i, p[(i - 1) % k + 1] } }' \
  "$ROOT/input/us-iraq-dialogue.txt" > "$WORK/corpus.txt"
mkdir -p "$WORK/paras"
awk -v dir="$WORK/paras" 'NF { f = sprintf("%s/%06d.txt", dir, ++i); print > f; close(f) }' "$WORK/corpus.txt"

# measure NAME COMMAND...: runs it RUNS times, records "wall cpu rss_kib" per run.
measure() {
  local name=$1; shift
  : > "$WORK/$name.times"
  for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/out" "$WORK"/paras/*.wav "$WORK"/*.wav
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/$name.err" \
      || { echo "bench: $name failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
    awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }' "$WORK/t" >> "$WORK/$name.times"
  done
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$2" '{ print $c }' "$WORK/$1.times" | median; }

measure a espeak-ng -f "$WORK/corpus.txt" -w "$WORK/a.wav"
measure b sh -c "ls '$WORK'/paras/*.txt | xargs -P$CORES -I{} espeak-ng -f {} -w {}.wav && sox '$WORK'/paras/*.wav '$WORK/b.wav'"
measure c "$ALOUD" convert -q --no-cache -j "$CORES" "$WORK/corpus.txt" -o "$WORK/out"
measure d "$ALOUD" convert -q --no-cache -j "$CORES" --backend mock "$WORK/corpus.txt" -o "$WORK/out"

"$ALOUD" convert -q -j "$CORES" "$WORK/corpus.txt" -o "$WORK/out"
audio=$(awk '/"duration_seconds"/ { gsub(/,/, ""); print $2; exit }' "$WORK/out/corpus.json")

echo "Corpus: $PARAGRAPHS paragraphs, $(wc -c < "$WORK/corpus.txt") bytes, $(awk -v s="$audio" 'BEGIN { printf "%dh %02dm", s / 3600, s % 3600 / 60 }') of speech (espeak-ng $(espeak-ng --version | awk '{ print $4 }'))."
echo "Machine: $CORES cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(free -g | awk '/Mem:/ { print $2 }') GiB; median of $RUNS runs."
echo
echo "| | command | wall (s) | CPU (s) | peak RSS (MiB) | wall / (a) |"
echo "|---|---|---:|---:|---:|---:|"
wa=$(col a 1)
row() {
  local w c r
  w=$(col "$1" 1); c=$(col "$1" 2); r=$(col "$1" 3)
  printf "| (%s) | %s | %.2f | %.2f | %.1f | %.3f |\n" "$1" "$2" "$w" "$c" "$(echo "$r / 1024" | bc -l)" "$(echo "$w / $wa" | bc -l)"
}
row a "\`espeak-ng -f corpus.txt\` (one process)"
row b "one \`espeak-ng\` per paragraph, \`xargs -P$CORES\` + \`sox\`"
row c "\`aloud convert -j $CORES\` (espeak-ng)"
row d "\`aloud convert -j $CORES --backend mock\`"
