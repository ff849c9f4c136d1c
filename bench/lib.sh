# Helpers shared by the benchmark scripts (sourced, with ROOT set to the repository root).

# require HINT TOOL...: stops with HINT (how to install them) unless every TOOL is there.
require() {
  local hint=$1 tool; shift
  for tool; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required ($hint)" >&2; exit 1; }
  done
}

# aloud_binary: sets ALOUD to the executable to measure. An ALOUD the caller set (a release
# build copied to a machine without a Rust toolchain, say) is kept; otherwise this checkout
# is built in release mode.
aloud_binary() {
  if [ -z "${ALOUD:-}" ]; then
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
    ALOUD="$ROOT/target/release/aloud"
  fi
  [ -x "$ALOUD" ] || { echo "bench: $ALOUD is not an executable" >&2; exit 1; }
}

# make_corpus PARAGRAPHS FILE: one long article, the sample article's paragraphs (minus its
# player-fallback line) numbered and cycled, one blank line between paragraphs.
make_corpus() {
  awk -v n="$1" 'NR > 1 && NF { p[++k] = $0 }
    END { for (i = 1; i <= n; i++) { if (i > 1) print ""; printf "Paragraph %d. %s\n", i, p[(i - 1) % k + 1] } }' \
    "$ROOT/input/us-iraq-dialogue.txt" > "$2"
}

# calc FORMAT EXPRESSION: the arithmetic EXPRESSION (awk's), printed with printf's FORMAT.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# timed_into NAME COMMAND...: runs COMMAND once under GNU time, appending "wall cpu rss_kib"
# to $WORK/NAME.times (cpu: user + system of the whole process tree); stops, with the
# command's stderr, if it fails.
timed_into() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/$name.err" ||
    { echo "bench: $name failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }' "$WORK/t" >> "$WORK/$name.times"
}

# col NAME COLUMN: the median of column COLUMN (1 wall, 2 cpu, 3 rss) of NAME's runs.
col() { awk -v c="$2" '{ print $c }' "$WORK/$1.times" | median; }

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# machine: one line naming this machine (cores, processor, memory, system).
machine() {
  echo "$(nproc --all) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(free -g | awk '/Mem:/ { print $2 }') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
}
