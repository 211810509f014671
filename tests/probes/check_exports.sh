#!/usr/bin/env bash
# check_exports.sh LIBSANDBOX TABLE_LIST API_LIST [MODULE]
# Symbol hygiene, from the two tables: libsandbox.so exports exactly the
# interposed symbols of interpose.def (TABLE_LIST) plus the C API of
# sandbox_api.def (API_LIST) -- a table line whose function was never
# written fails here (the version script alone would silently export
# nothing for it), and so does any internal symbol leaking out.
# mod_tenant_tag.so exports only its module record, and is C through and
# through: no libstdc++ among what it needs, no C++ symbol in it.
set -euo pipefail
lib=$1 table=$2 api=$3 module=${4:-}
fail=0
want=$(mktemp) have=$(mktemp)
trap 'rm -f "$want" "$have"' EXIT
cat "$table" "$api" | tr -d ' ;' | grep -v '^$' | sort -u > "$want"
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u > "$have"
missing=$(comm -23 "$want" "$have")
extra=$(comm -13 "$want" "$have")
[[ -z "$missing" ]] || { echo "not exported (table entry without a wrapper?):"; echo "$missing"; fail=1; }
[[ -z "$extra" ]] || { echo "exported but not in the table or the C API:"; echo "$extra"; fail=1; }
echo "libsandbox.so: $(wc -l < "$have") symbols exported, $(wc -l < "$want") expected"
if [[ -n "$module" ]]; then
  mod=$(nm -D --defined-only "$module" | awk '{print $3}' | sed 's/@.*//' | sort -u)
  if [[ "$mod" != "tenant_tag_module" ]]; then
    echo "mod_tenant_tag.so exports more than tenant_tag_module:"; echo "$mod"; fail=1
  else
    echo "mod_tenant_tag.so: exports only tenant_tag_module"
  fi
  needed=$(readelf -d "$module" | awk '/NEEDED/ {print $5}' | tr -d '[]' | tr '\n' ' ')
  if grep -qE 'libstdc\+\+|libsandbox' <<<"$needed"; then
    echo "mod_tenant_tag.so needs $needed: it must be C glue over the C API only"; fail=1
  else
    echo "mod_tenant_tag.so needs only: $needed"
  fi
  if nm "$module" 2>/dev/null | grep -q ' _Z'; then
    echo "mod_tenant_tag.so contains C++ symbols:"; nm "$module" | grep ' _Z' | head -5; fail=1
  fi
fi
((fail == 0)) && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit "$fail"
