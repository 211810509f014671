#!/usr/bin/env bash
# fs_shm: the listed segment must exist (a file area of the policy is an
# object the operator made; libsandbox opens it, it does not create it).
# One per build variant: the three variants run in parallel.
set -euo pipefail
variant=${2##*_}
rm -f "/dev/shm/ts-probe-a-$variant"
install -m 0600 /dev/null "/dev/shm/ts-probe-a-$variant"
