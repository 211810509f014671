#!/usr/bin/env bash
# run_probe.sh MODE NAME CLI LIBSANDBOX PROBE [ARGS...]
# Builds a fresh fixture tree for one probe run and runs the probe in it:
#
#   ROOT/www/site-a/  file.txt ("A-DATA"), sub/inner.txt, tmp/   root of site-a
#   ROOT/www/site-b/  secret.txt ("B-SECRET"), sub/             root of site-b
#   ROOT/www/site-ab/ file.txt                                  prefix trap for site-a
#   ROOT/shared/ro/   readme.txt                                read_only for everyone
#   ROOT/outside/     other.txt                                 nobody's
#
# The probe gets ROOT as argv[1] (and the policy path as argv[2]) and the
# environment PROBE_ROOT, PROBE_POLICY, PROBE_LIBSANDBOX, PROBE_CLI.
set -euo pipefail
mode=$1 name=$2 cli=$3 lib=$4 probe=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
root="$PWD/work/$(basename "$probe")"
rm -rf "$root"
mkdir -p "$root"/www/site-a/{sub,tmp} "$root"/www/site-b/sub "$root"/www/site-ab "$root"/shared/ro "$root"/outside "$root"/state
echo -n "A-DATA" > "$root/www/site-a/file.txt"
echo -n "A-INNER" > "$root/www/site-a/sub/inner.txt"
echo -n "B-SECRET" > "$root/www/site-b/secret.txt"
echo -n "AB-DATA" > "$root/www/site-ab/file.txt"
echo -n "SHARED" > "$root/shared/ro/readme.txt"
echo -n "OUTSIDE" > "$root/outside/other.txt"
template="$here/$name.policy.json"
[[ -f "$template" ]] || template="$here/default.policy.json"
sed "s|@ROOT@|$root|g" "$template" > "$root/policy.json"
# A probe that needs more than the fixture (objects outside ROOT) has
# NAME.setup.sh, run with ROOT and the probe's file name.
[[ -f "$here/$name.setup.sh" ]] && bash "$here/$name.setup.sh" "$root" "$(basename "$probe")"

export PROBE_ROOT="$root" PROBE_POLICY="$root/policy.json" PROBE_LIBSANDBOX="$lib" PROBE_CLI="$cli"
# Shared counters (the connection budget) of this run live in the fixture,
# never in the system's /run/tenant-sandbox.
export TENANT_SANDBOX_STATE_DIR="$root/state"
cd "$root/www/site-a"
case "$mode" in
  # Probes of the preload layer run it alone (--no-kernel): with the kernel
  # layers on, Landlock would refuse most of what they check too, and they
  # would pass with the wrapper they exercise removed. kernel_* probes test
  # `run` with its kernel layers.
  run) kflag=--no-kernel; [[ $name == kernel_* ]] && kflag=
       exec "$cli" run --policy "$root/policy.json" --tenant site-a $kflag -- "$probe" "$root" "$root/policy.json" "$@" ;;
  preload) LD_PRELOAD="$lib" exec "$probe" "$root" "$root/policy.json" "$@" ;;
  *) echo "run_probe.sh: unknown mode $mode" >&2; exit 2 ;;
esac
