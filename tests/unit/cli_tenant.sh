#!/usr/bin/env bash
# cli_tenant.sh CLI DATA SCENARIO -- `tenant-sandbox tenant add|remove|list`
# on a copy of the test policies (a single file and a folder): what they
# write, what they refuse (leaving the policy byte for byte as it was), and
# that concurrent adds lose no tenant.
set -uo pipefail
cli=$1 data=$2 scenario=$3
work=$(mktemp -d "$PWD/cli_tenant.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$data/valid.policy.json" "$work/p.json"
cp -r "$data/policy.d" "$work/p.d"
F=$work/p.json D=$work/p.d
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect RC PATTERN -- COMMAND...: exit status RC and output matching PATTERN (grep -E)
expect() {
  local want=$1 pat=$2; shift 3
  local out rc cmd="$*"
  out=$("$@" 2>&1); rc=$?
  cmd=${cmd:0:200} out=${out:0:2000}
  printf '%s\n' "$out" | sed 's/^/    /'
  [[ $rc == "$want" ]] || fail "'$cmd' exited $rc, expected $want"
  # A here-string, not a pipe: grep -q stops reading at its match, and
  # pipefail would count printf's SIGPIPE as a failure.
  [[ -z $pat ]] || grep -Eq -- "$pat" <<< "$out" || fail "'$cmd' output does not match: $pat"
}
# Every file under a folder (hidden ones too) with its size and mode, and its bytes.
snapshot() { (cd "$1" && ls -lAR --time-style=+ . && find . -type f -print0 | sort -z | xargs -0 cat); }
same_list() {  # same_list POLICY ID...
  local policy=$1; shift
  local got; got=$("$cli" tenant list --policy "$policy" | tr '\n' ' ')
  [[ $got == "$* " ]] || fail "tenant list $policy: got '$got', expected '$* '"
}

case $scenario in
add_list_remove)
  for P in "$F" "$D"; do
    echo "== $P"
    expect 0 "^added site-c: " -- "$cli" tenant add --policy "$P" site-c --rules '{"read_only":["/opt/c"],"max_requests":3}'
    same_list "$P" site-a site-b site-c
    expect 0 "ok: 3 tenants" -- "$cli" check "$P"
    expect 0 "^allow read /opt/c/x: read_only\[0\] \(/opt/c, from tenant\)" -- "$cli" explain --policy "$P" --tenant site-c read /opt/c/x
    expect 0 '"id": "site-c"' -- "$cli" tenant list --policy "$P" --json
    expect 0 '"own_keys": \[' -- "$cli" tenant list --policy "$P" --json
    expect 0 "^removed site-b: " -- "$cli" tenant remove --policy "$P" site-b
    same_list "$P" site-a site-c
    expect 1 "tenant site-b is not listed" -- "$cli" tenant remove --policy "$P" site-b
    expect 2 "not listed in the policy" -- "$cli" explain --policy "$P" --tenant site-b read /srv/www/site-b/x
  done
  [[ -f $D/site-c.json && ! -e $D/site-b.json ]] || fail "folder: site-c.json should exist and site-b.json be gone"
  # Nothing left behind: no temporary files.
  [[ -z $(find "$work" -name '.*' -print -quit) ]] || fail "temporary files left: $(find "$work" -name '.*')"
  ;;
rules_file)
  echo '{"exec":["/usr/bin/convert"]}' > "$work/rules.json"
  expect 0 "^added site-c" -- "$cli" tenant add --policy "$D" site-c --rules-file "$work/rules.json"
  expect 0 "^added site-d" -- sh -c "echo '{\"mode\":\"audit\"}' | '$cli' tenant add --policy '$D' site-d --rules-file -"
  grep -q '"/usr/bin/convert"' "$D/site-c.json" || fail "site-c.json lacks its rules"
  grep -q '"audit"' "$D/site-d.json" || fail "site-d.json lacks its rules"
  expect 2 "exclude each other" -- "$cli" tenant add --policy "$D" site-e --rules '{}' --rules-file "$work/rules.json"
  ;;
invalid_id)
  for P in "$F" "$D"; do
    before=$(snapshot "$work")
    for id in '../etc' '-x' 'a b' '' "$(printf 'x%.0s' {1..65})" '_main' 'site-a/../x'; do
      # "--": an id that starts with "-" would be taken for an option.
      expect 1 "invalid tenant id" -- "$cli" tenant add --policy "$P" -- "$id"
      expect 1 "invalid tenant id" -- "$cli" tenant remove --policy "$P" -- "$id"
    done
    expect 2 "unknown option -x" -- "$cli" tenant add --policy "$P" -x
    [[ $(snapshot "$work") == "$before" ]] || fail "$P changed after refused ids"
  done
  ;;
invalid_rules)
  # A root under 4096 bytes that a 64-character id takes past the limit.
  long=$(printf 'x%.0s' {1..4050}) id64=$(printf 'y%.0s' {1..64})
  for P in "$F" "$D"; do
    before=$(snapshot "$work")
    expect 1 '^--rules: /read_only/0: relative path' -- "$cli" tenant add --policy "$P" site-c --rules '{"read_only":["rel"]}'
    expect 1 '^--rules: /bogus: unknown key' -- "$cli" tenant add --policy "$P" site-c --rules '{"bogus":1}'
    expect 1 '^--rules: /mode: duplicate key' -- "$cli" tenant add --policy "$P" site-c --rules '{"mode":"audit","mode":"enforce"}'
    expect 1 '^--rules: invalid JSON' -- "$cli" tenant add --policy "$P" site-c --rules '{"exec":['
    expect 1 '^--rules: expected an object' -- "$cli" tenant add --policy "$P" site-c --rules '[]'
    # Valid on its own, invalid once expanded in the whole policy: what
    # `check` finds, so `tenant add` finds it too.
    expect 1 "/root: longer than 4095 bytes after expanding" -- \
      "$cli" tenant add --policy "$P" "$id64" --rules "{\"root\":\"/$long/{tenant}\"}"
    expect 1 "already listed in .*nothing written" -- "$cli" tenant add --policy "$P" site-a
    [[ $(snapshot "$work") == "$before" ]] || fail "$P changed after refused rules"
  done
  ;;
replace)
  for P in "$F" "$D"; do
    expect 0 "^replaced site-a: " -- "$cli" tenant add --policy "$P" site-a --replace --rules '{"read_only":["/opt/new"]}'
    expect 0 "^allow read /opt/new/x: read_only\[0\] \(/opt/new, from tenant\)" -- \
      "$cli" explain --policy "$P" --tenant site-a read /opt/new/x
  done
  expect 0 '"/opt/new"' -- cat "$D/site-a.json"
  ;;
main_listed)
  # A policy moved into a folder as it was: its tenants stay in _main.json
  # and are edited there.
  rm "$D"/*.json && cp "$data/valid.policy.json" "$D/_main.json"
  expect 0 "^replaced site-a: .*/_main.json" -- "$cli" tenant add --policy "$D" site-a --replace --rules '{}'
  expect 0 "^removed site-b: .*/_main.json" -- "$cli" tenant remove --policy "$D" site-b
  expect 0 "^added site-c: .*/site-c.json" -- "$cli" tenant add --policy "$D" site-c
  same_list "$D" site-a site-c
  ;;
invalid_document)
  # A rewrite would keep only the last of a duplicate key: refused, unchanged.
  printf '{"version":1,"tenant_root":"/srv/www/{tenant}","tenants":{"a":{"mode":"audit","mode":"enforce"}}}\n' > "$F"
  before=$(snapshot "$work")
  expect 1 "duplicate key.*|not valid now" -- "$cli" tenant add --policy "$F" site-c
  expect 1 "not valid now" -- "$cli" tenant remove --policy "$F" a
  [[ $(snapshot "$work") == "$before" ]] || fail "an invalid document was rewritten"
  # A folder's broken tenant file can be replaced or removed: that fixes it.
  echo '{"ip_deny":["x"]}' > "$D/site-b.json"
  expect 1 "site-b.json: /ip_deny/0" -- "$cli" tenant add --policy "$D" site-c
  [[ ! -e $D/site-c.json ]] || fail "site-c.json written into an invalid folder"
  expect 0 "^removed site-b" -- "$cli" tenant remove --policy "$D" site-b
  expect 0 "ok: 1 tenants" -- "$cli" check "$D"
  ;;
owner_mode)
  group=$(id -gn)
  if [[ $(id -u) == 0 ]]; then group=daemon; fi
  chmod 0640 "$F" "$D/_main.json" "$D/site-a.json" && chgrp "$group" "$F" "$D/_main.json" "$D/site-a.json"
  expect 0 "^added" -- "$cli" tenant add --policy "$F" site-c
  expect 0 "^added" -- "$cli" tenant add --policy "$D" site-c
  expect 0 "^replaced" -- "$cli" tenant add --policy "$D" site-a --replace
  for f in "$F" "$D/site-c.json" "$D/site-a.json"; do
    got=$(stat -c '%a %G' "$f")
    [[ $got == "640 $group" ]] || fail "$f: mode and group '$got', expected '640 $group'"
  done
  ;;
symlink)
  # A policy that is a symlink stays one: the file it points to changes.
  ln -s p.json "$work/link.json"
  expect 0 "^added site-c" -- "$cli" tenant add --policy "$work/link.json" site-c
  expect 0 "^removed site-a" -- "$cli" tenant remove --policy "$work/link.json" site-a
  [[ -L $work/link.json ]] || fail "link.json is no longer a symlink"
  same_list "$F" site-b site-c
  ;;
concurrent)
  # 20 panels at once: without the lock, read-modify-rename of the single
  # file loses tenants.
  for P in "$F" "$D"; do
    pids=()
    for i in $(seq -w 1 20); do
      "$cli" tenant add --policy "$P" "new-$i" --rules '{"max_requests":2}' > /dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || fail "an add exited $?"; done
    n=$("$cli" tenant list --policy "$P" | grep -c '^new-')
    [[ $n == 20 ]] || fail "$P: $n of 20 concurrent adds listed"
    expect 0 "ok: 22 tenants" -- "$cli" check "$P"
  done
  ;;
*) echo "cli_tenant.sh: unknown scenario $scenario"; exit 2 ;;
esac
if ((failures)); then echo "$failures failure(s)"; exit 1; fi
echo "ok"
