#!/usr/bin/env bash
# Compare one Go benchmark between two commits on a noisy machine: builds
# the package's test binary at each commit, runs them in turns (the order
# alternating every round, so that a drift of the machine's speed favours
# neither), and prints every run's metrics and, per metric, the mean and the
# range of the B/A ratios of the pairs.
#   scripts/bench-ab.sh <commit A> <commit B> <package> <benchmark regexp> [rounds] [benchtime]
#   scripts/bench-ab.sh HEAD~1 HEAD ./identity/ 'ProcessorMix$' 6 200000x
# A or B may be "." for the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
A=$1 B=$2 PKG=$3 BENCH=$4 ROUNDS=${5:-6} TIME=${6:-2s}
tmp=$(mktemp -d)
. scripts/test-binaries.sh
trap 'remove_worktrees; rm -rf "$tmp"' EXIT
build() { build_test_binary "$1" "$2" "$PKG"; }
build "$A" a
build "$B" b
dir=$(go list -f '{{.Dir}}' "$PKG")
run() { # name -> "metric value" lines of the first result line
  (cd "$dir" && "$tmp/$1.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$TIME") |
    awk '!done && /^Benchmark/ {for (i = 3; i < NF; i += 2) print $(i + 1), $i; done = 1}'
}
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run a >"$tmp/a.$r"; run b >"$tmp/b.$r"; else run b >"$tmp/b.$r"; run a >"$tmp/a.$r"; fi
  echo "round $r: A $(tr '\n' ' ' <"$tmp/a.$r")"
  echo "round $r: B $(tr '\n' ' ' <"$tmp/b.$r")"
done
for r in $(seq "$ROUNDS"); do join <(sort "$tmp/a.$r") <(sort "$tmp/b.$r"); done |
  awk '$2 != 0 {x = $3 / $2; n[$1]++; s[$1] += x; if (!($1 in lo) || x < lo[$1]) lo[$1] = x; if (!($1 in hi) || x > hi[$1]) hi[$1] = x}
       END {for (m in n) printf "B/A %-22s mean %.3f  range %.3f–%.3f  (%d pairs)\n", m, s[m] / n[m], lo[m], hi[m], n[m]}' | sort
