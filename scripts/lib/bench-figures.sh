# Sourced by the benchmark scripts under tests/bench.
# check_figures HINT NAME...: every named variable holds a positive number,
# or the run stops, naming the figure (HINT says where to look). The
# caller defines say().
check_figures() {
  local hint=$1 figure
  shift
  for figure in "$@"; do
    awk -v v="${!figure:-}" 'BEGIN { exit !(v ~ /^[0-9.e+]+$/ && v + 0 > 0) }' || {
      say "no valid figure for $figure ('${!figure:-}')$hint"
      exit 1
    }
  done
}

# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
