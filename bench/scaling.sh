#!/usr/bin/env bash
# How the library engine scales with workers (issue 8): the core benchmark's long article
# (bench/core.sh) spoken by
#
#   (a)  one espeak-ng process over the whole text     espeak-ng -f corpus.txt -w a.wav
#   (c)  aloud convert -j J --backend espeak-ng-process (one espeak-ng per paragraph)
#   (c') aloud convert -j J (the libespeak-ng engine: one long-lived worker per job)
#
# for each J in JOBS, in rounds (a, then every J), with --no-cache. Prints, for each J, the
# median wall and CPU time (user+sys of the whole process tree) of each, their ratios to (a),
# and the speed-up of (c') over its own -j 1 with its parallel efficiency (speed-up / J).
# BACKENDS="l" measures only (c') beside (a); "l c" (the default) both. To measure J workers on
# J cores of a larger machine, run it under taskset: `taskset -c 0,1 bench/scaling.sh 2000 3 2`.
#
# Usage: bench/scaling.sh [PARAGRAPHS] [RUNS] [JOBS...]   (defaults: 2000 paragraphs, 1 run,
#        jobs "1 2 4 8 16"). ALOUD=path measures that executable instead of building one.
# Needs espeak-ng, libespeak-ng1 and GNU time (apt-get install espeak-ng time).
set -euo pipefail

PARAGRAPHS=${1:-2000}
RUNS=${2:-1}
shift 2 2>/dev/null || shift $#
JOBS=${*:-1 2 4 8 16}
BACKENDS=${BACKENDS:-l c}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aloud-scaling.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require "apt-get install espeak-ng time" espeak-ng /usr/bin/time
aloud_binary
make_corpus "$PARAGRAPHS" "$WORK/corpus.txt"

# timed NAME COMMAND...: runs COMMAND once, into empty outputs, under GNU time.
timed() {
  rm -rf "$WORK/out" "$WORK/a.wav"
  timed_into "$@"
}

for _ in $(seq "$RUNS"); do
  timed a espeak-ng -f "$WORK/corpus.txt" -w "$WORK/a.wav"
  for j in $JOBS; do
    for b in $BACKENDS; do
      case $b in
        l) timed "l$j" "$ALOUD" convert -q -j "$j" --no-cache "$WORK/corpus.txt" -o "$WORK/out" ;;
        c) timed "c$j" "$ALOUD" convert -q -j "$j" --no-cache --backend espeak-ng-process "$WORK/corpus.txt" -o "$WORK/out" ;;
        *) echo "bench: unknown backend $b in BACKENDS (l, c)" >&2; exit 2 ;;
      esac
    done
  done
done

echo "Corpus: $PARAGRAPHS paragraphs, $(wc -c < "$WORK/corpus.txt") bytes (espeak-ng $(espeak-ng --version | awk '{ print $4 }'))."
echo "Machine: $(machine), $(nproc) available to the runs; median of $RUNS runs."
echo
wa=$(col a 1); ca=$(col a 2)
echo "(a) \`espeak-ng -f corpus.txt\`: wall $wa s, CPU $ca s."
echo
header="| --jobs | (c') wall (s) | (c') CPU (s) | (c') largest RSS (MiB) | (c') wall / (a) | (c') CPU / (a) | (c') speed-up on its -j 1 | efficiency |"
rule="|---:|---:|---:|---:|---:|---:|---:|---:|"
if [[ " $BACKENDS " == *" c "* ]]; then
  header+=" (c) wall (s) | (c) CPU (s) | (c) wall / (a) | (c) CPU / (a) |"
  rule+="---:|---:|---:|---:|"
fi
echo "$header"
echo "$rule"
# Speed-up and efficiency are on the first --jobs measured (normally 1).
read -r j1 _ <<< "$JOBS"
w1=$(col "l$j1" 1)
for j in $JOBS; do
  w=$(col "l$j" 1); c=$(col "l$j" 2); r=$(col "l$j" 3)
  speedup=$(calc %.2f "$w1 / $w")
  line="| $j | $w | $c | $(calc %.1f "$r / 1024") | $(calc %.3f "$w / $wa") | $(calc %.3f "$c / $ca") | ${speedup}× | $(calc %.0f "100 * $w1 / $w / ($j / $j1)") % |"
  if [[ " $BACKENDS " == *" c "* ]]; then
    w=$(col "c$j" 1); c=$(col "c$j" 2)
    line+=" $w | $c | $(calc %.3f "$w / $wa") | $(calc %.3f "$c / $ca") |"
  fi
  echo "$line"
done
