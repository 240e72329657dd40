#!/usr/bin/env bash
# Records what the command line prints, for a refactor's before/after comparison: run the same
# script on both checkouts and `diff -r` the two folders; an empty diff means the same output.
# Run IDs, this run's timestamps, durations and state folders are replaced by placeholders.
#
#   git worktree add --detach /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/
#   (cd /tmp/before && bash "$OLDPWD/scripts/record-outputs.sh" /tmp/out-before)
#   bash scripts/record-outputs.sh /tmp/out-after && diff -r /tmp/out-before /tmp/out-after
set -u
out=$1
cli=${2:-node bin/account-auditor.js}
rm -rf "$out"
mkdir -p "$out"
today=$(date -u +%Y-%m-%d)
norm() {
  sed -E -e 's/[0-9]{8}T[0-9]{9}Z-local-[0-9a-f]{8}/ORGRUNID/g' -e 's/[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}/RUNID/g' \
    -e "s/${today}T[0-9:.]+Z/NOW/g" -e 's/[0-9]{8}T[0-9]*…/RUNID…/g' -e "s/${today}T[0-9:]*…/NOW…/g" \
    -e 's/"time": [0-9]{13}/"time": N/g' -e 's/"durationMs": [0-9]+/"durationMs": N/g' \
    -e 's/(in |took )[0-9.]+ ?(ms|s)\b/\1T/g' -e 's#/tmp/rec-[A-Za-z0-9]+#STATE#g'
}
r() {
  local name=$1
  shift
  $cli "$@" >"$out/$name.out" 2>"$out/$name.err"
  echo "rc=$?" >>"$out/$name.out"
  norm <"$out/$name.out" >"$out/$name.o"
  norm <"$out/$name.err" >"$out/$name.e"
  rm "$out/$name.out" "$out/$name.err"
}
state() { local s; s=$(mktemp -d /tmp/rec-XXXXXX) && rmdir "$s" && echo "$s"; }

# Two nights in one state: the demo, then the same account a night later; what the state shows.
s=$(state)
r demo-json run --demo --format json --state-dir "$s"
r next-json run --from examples/demo-account-next --format json --state-dir "$s"
r findings findings --state-dir "$s"
r findings-json findings --state-dir "$s" --format json
r runs runs --state-dir "$s"
s=$(state)
r next-fresh-json run --from examples/demo-account-next --format json --state-dir "$s"
for f in table csv asff ocsf; do
  s=$(state)
  r "demo-$f" run --demo --format "$f" --state-dir "$s"
  r "next-$f" run --from examples/demo-account-next --format "$f" --state-dir "$s" --show-alert
done
r nostore run --demo --no-store --format json
r files files
r checks checks
r help --help
r run-help run --help
r demo demo
r bad-from run --from /nonexistent --no-store
r bad-checks run --demo --checks nope --no-store
