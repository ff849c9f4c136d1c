# Helpers shared by the benchmark scripts (sourced, with ROOT set to the repository root).

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

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# machine: one line naming this machine (cores, processor, memory, system).
machine() {
  echo "$(nproc --all) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(free -g | awk '/Mem:/ { print $2 }') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
}
