#!/usr/bin/env bash
# proc_cli.sh CLI LIBSANDBOX -- `tenant-sandbox run`: exit statuses, located
# policy errors, refusal to run unconfined, and that COMMAND really starts
# as the tenant (locked from its first instruction).
set -uo pipefail
cli=$1 lib=$2
work=$(mktemp -d "$PWD/proc_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/www/site-a" "$work/www/site-b"
echo -n A-DATA > "$work/www/site-a/file.txt"
echo -n B-SECRET > "$work/www/site-b/secret.txt"
cat > "$work/policy.json" <<JSON
{ "version": 1, "tenant_root": "$work/www/{tenant}", "unknown_tenants": "deny",
  "defaults": { "read_only": ["/bin", "/usr", "/lib", "/lib64", "/etc"], "exec": ["/bin/cat", "/bin/sh"] },
  "tenants": { "site-a": {}, "site-b": {} } }
JSON
echo '{"version":1,"tenant_root":"rel/{tenant}","tenants":{"a":{"ip_deny":["x"]}}}' > "$work/bad.json"
pass=0 fail=0
check() {  # check NAME EXPECTED_STATUS GREP_PATTERN(or "") -- command...
  local name=$1 want=$2 pat=$3; shift 4
  local out; out=$("$@" 2>&1); local st=$?
  if [[ $st == "$want" && ( -z $pat || $out == *$pat* ) ]]; then
    echo "ok - $name"; pass=$((pass+1))
  else
    echo "not ok - $name (status $st, want $want; output: ${out:0:300})"; fail=$((fail+1))
  fi
}
export TENANT_SANDBOX_LIBRARY="$lib" TENANT_SANDBOX_STATE_DIR="$work"
P="$work/policy.json"
check "own file readable" 0 "A-DATA" -- "$cli" run --policy "$P" --tenant site-a -- /bin/cat "$work/www/site-a/file.txt"
check "other tenant's file denied from the first instruction" 1 "deny tenant=site-a" -- "$cli" run --policy "$P" --tenant site-a -- /bin/cat "$work/www/site-b/secret.txt"
check "exit status is COMMAND's" 7 "" -- "$cli" run --policy "$P" --tenant site-a -- /bin/sh -c 'exit 7'
check "COMMAND not found -> 127" 127 "cannot execute" -- "$cli" run --policy "$P" --tenant site-a -- /nonexistent/cmd
check "invalid policy -> 2 with located errors" 2 "/tenants/a/ip_deny/0" -- "$cli" run --policy "$work/bad.json" --tenant a -- /bin/true
check "... the relative tenant_root located too" 2 "/tenant_root" -- "$cli" run --policy "$work/bad.json" --tenant a -- /bin/true
check "unknown tenant -> 2" 2 "not admitted" -- "$cli" run --policy "$P" --tenant site-zz -- /bin/true
check "invalid tenant id -> 2" 2 "invalid tenant id" -- "$cli" run --policy "$P" --tenant ../x -- /bin/true
check "no COMMAND -> usage, 2" 2 "usage" -- "$cli" run --policy "$P" --tenant site-a
check "missing library -> refuse to run, 2" 2 "refusing to run" -- env TENANT_SANDBOX_LIBRARY=/nonexistent/libsandbox.so "$cli" run --policy "$P" --tenant site-a -- /bin/true
check "env protocol set for COMMAND" 0 "TENANT_SANDBOX_TENANT=site-a" -- "$cli" run --policy "$P" --tenant site-a -- /bin/sh -c 'echo TENANT_SANDBOX_TENANT=$TENANT_SANDBOX_TENANT'
check "caller's state dir kept" 0 "STATE=$work" -- "$cli" run --policy "$P" --tenant site-a -- /bin/sh -c 'echo STATE=$TENANT_SANDBOX_STATE_DIR'
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
