#!/usr/bin/env bash
# check_exports.sh LIBSANDBOX TABLE_LIST [MODULE]
# Symbol hygiene, from the one table: libsandbox.so exports exactly the
# interposed symbols of interpose.def plus the C API -- a table line whose
# wrapper was never written fails here (the version script alone would
# silently export nothing for it), and so does any internal symbol leaking
# out. mod_tenant_tag.so exports only its module record.
set -euo pipefail
lib=$1 table=$2 module=${3:-}
fail=0
want=$(mktemp) have=$(mktemp)
trap 'rm -f "$want" "$have"' EXIT
{ tr -d ' ;' < "$table" | grep -v '^$'
  printf '%s\n' sandbox_claim_control sandbox_set_tenant sandbox_clear_tenant sandbox_current_tenant sandbox_load_policy sandbox_set_request_info sandbox_set_access_files
} | sort -u > "$want"
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
fi
((fail == 0)) && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit "$fail"
