#!/usr/bin/env bash
# The batch benchmark (issue 5): a generated folder of articles of mixed lengths.
#
#   cold    first conversion with espeak-ng, empty cache
#   warm    the same command again (target: <= 5 % of cold, zero syntheses)
#   edit    one paragraph of one article changed (target: exactly one synthesis)
#   scaling the mock backend with 50 ms latency per call at --jobs 1 and 2 (and more where
#           the machine has the cores): parallel efficiency = T(1) / (jobs x T(jobs))
#
# Usage: bench/batch.sh [ARTICLES] [SCALING_ARTICLES] [JOBS...]
#        (defaults: 200 articles, 30 for the scaling runs, jobs "1 2")
# Needs espeak-ng and GNU time (apt-get install espeak-ng time).
set -euo pipefail

ARTICLES=${1:-200}
SCALING=${2:-30}
shift 2 2>/dev/null || shift $#
JOBS=${*:-1 2}
[ "$ARTICLES" -ge 7 ] || { echo "bench: the edit run changes article 7, so ARTICLES must be at least 7" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aloud-batch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
aloud_binary

# Articles of 1 to 40 paragraphs, cycling through the sample article's paragraphs.
mkdir -p "$WORK/in"
awk -v n="$ARTICLES" -v dir="$WORK/in" 'NR > 1 && NF { p[++k] = $0 }
  END {
    for (a = 1; a <= n; a++) {
      f = sprintf("%s/%02d/article-%04d.txt", dir, a % 10, a)
      system("mkdir -p " dir "/" sprintf("%02d", a % 10))
      paras = (a * 7) % 40 + 1
      for (i = 1; i <= paras; i++) {
        if (i > 1) print "" > f
        printf "Article %d, paragraph %d. %s\n", a, i, p[(a + i) % k + 1] > f
      }
      close(f)
    }
  }' "$ROOT/input/us-iraq-dialogue.txt"

timed() { # timed LABEL COMMAND...: prints "wall user+sys" and keeps the JSON summary
  local label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$WORK/t" "$@" --json > "$WORK/$label.json" 2> "$WORK/$label.err" \
    || { cat "$WORK/$label.err" >&2; exit 1; }
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$WORK/t"
}
field() { python3 -c "import json,sys; d=json.load(open('$WORK/$1.json')); print($2)"; }

export XDG_CACHE_HOME="$WORK/cache"
read -r cold_wall cold_cpu <<< "$(timed cold "$ALOUD" convert -q "$WORK/in" -o "$WORK/out")"
read -r warm_wall warm_cpu <<< "$(timed warm "$ALOUD" convert -q "$WORK/in" -o "$WORK/out")"
sed -i 's/Article 7, paragraph 3\./Article 7, paragraph 3 (edited)./' "$WORK/in/07/article-0007.txt"
read -r edit_wall edit_cpu <<< "$(timed edit "$ALOUD" convert -q "$WORK/in" -o "$WORK/out")"

units=$(field cold "d['units']['synthesized']")
audio=$(field cold "round(d['audio_seconds'] / 3600, 2)")
echo "Corpus: $ARTICLES articles, $units paragraphs, ${audio} h of speech (espeak-ng, -j $(nproc))."
echo "Machine: $(machine)."
echo
echo "| run | wall (s) | CPU (s) | articles converted / up to date | units synthesized / from cache |"
echo "|---|---:|---:|---:|---:|"
for r in cold warm edit; do
  eval "w=\$${r}_wall c=\$${r}_cpu"
  echo "| $r | $w | $c | $(field $r "d['articles']['converted']") / $(field $r "d['articles']['unchanged']") | $(field $r "d['units']['synthesized']") / $(field $r "d['units']['cached']") |"
done
echo
echo "warm / cold wall: $(calc %.3f "$warm_wall / $cold_wall")"
echo

# Scaling: the mock engine with 50 ms of latency per call, no cache, on a subset.
mkdir -p "$WORK/scale"
find "$WORK/in" -name '*.txt' | sort | head -n "$SCALING" | while read -r f; do cp "$f" "$WORK/scale/"; done
scale_units=$(cat "$WORK"/scale/*.txt | grep -c .)
echo "Scaling: $SCALING articles, $scale_units paragraphs, mock backend with 50 ms per call, no cache."
echo
echo "| --jobs | wall (s) | ideal (s) | efficiency |"
echo "|---:|---:|---:|---:|"
t1=""
for j in $JOBS; do
  read -r w _ <<< "$(timed "scale$j" "$ALOUD" convert -q --backend mock --mock-latency-ms 50 --no-cache -j "$j" "$WORK/scale" -o "$WORK/scale-out-$j")"
  [ -z "$t1" ] && t1=$w
  ideal=$(calc %.6f "$t1 / $j")
  printf "| %s | %.2f | %.2f | %s %% |\n" "$j" "$w" "$ideal" "$(calc %.1f "100 * $ideal / $w")"
done
