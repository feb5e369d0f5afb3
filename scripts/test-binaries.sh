# Sourced by bench-ab.sh and redis-instructions.sh: builds a package's test
# binary at a commit ("." = the working tree) into $tmp, in a worktree of
# its own that remove_worktrees removes.
#   build_test_binary <commit> <name> <package>   → $tmp/<name>.test
build_test_binary() {
  local src=.
  if [ "$1" != "." ]; then
    src=$tmp/wt-$2
    git worktree add -q --detach "$src" "$1"
  fi
  (cd "$src" && go test -c -o "$tmp/$2.test" "$3")
}

remove_worktrees() {
  for w in "$tmp"/wt-*; do [ -d "$w" ] && git worktree remove --force "$w"; done
  return 0
}
