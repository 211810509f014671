#!/bin/sh
# cli_expect.sh RC [-e REGEX]... [-n REGEX]... -- COMMAND [ARG...]
# Runs COMMAND, then fails unless its exit status is RC, its combined output
# matches every -e REGEX (grep -E) and none of the -n REGEX.
expected_rc=$1; shift
must=""; mustnot=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    -e) must="$must
$2"; shift 2 ;;
    -n) mustnot="$mustnot
$2"; shift 2 ;;
    *) echo "cli_expect.sh: bad argument $1" >&2; exit 2 ;;
  esac
done
shift
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
status=0
if [ "$rc" != "$expected_rc" ]; then echo "FAIL: exit status $rc, expected $expected_rc"; status=1; fi
old_ifs=$IFS; IFS='
'
for re in $must; do
  printf '%s\n' "$out" | grep -Eq -- "$re" || { echo "FAIL: output does not match: $re"; status=1; }
done
for re in $mustnot; do
  printf '%s\n' "$out" | grep -Eq -- "$re" && { echo "FAIL: output matches: $re"; status=1; }
done
IFS=$old_ifs
exit $status
