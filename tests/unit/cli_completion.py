#!/usr/bin/env python3
"""cli_completion.py CLI COMPLETION DATA: the bash completion against --help.

Sources COMPLETION in bash, sets COMP_WORDS/COMP_CWORD as readline would
and calls _tenant_sandbox: every command, subcommand and option --help lists
must be offered (and nothing else), and values complete as they should --
files and folders for a policy, tenant ids from the policy, explain's
operations, run's COMMAND after --.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_help  # noqa: E402

problems = []


def complete(completion, words):
    """COMPREPLY for `words`, the last being the word under the cursor."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_tenant_sandbox; printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "_", completion, *words],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or r.stderr:
        problems.append(f"{words}: bash exited {r.returncode}: {r.stderr.strip()}")
    return {w for w in r.stdout.split("\n") if w}


def expect(words, want, exact=True):
    got = complete(COMPLETION, words)
    ok = got == set(want) if exact else set(want) <= got
    if not ok:
        problems.append(f"{words[1:]}: offered {sorted(got)}, expected {'' if exact else 'at least '}{sorted(want)}")


CLI, COMPLETION, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
commands = cli_help.commands(CLI)
top_names = cli_help.command_names(cli_help.run_help(CLI))

# Commands and options, exactly as --help lists them.
expect([CLI, ""], set(top_names) | {"help"})
expect([CLI, "--"], {"--" + o for o in cli_help.top_options(CLI)})
expect([CLI, "tenant", ""], set(cli_help.command_names(cli_help.run_help(CLI, "tenant"))))
for name, opts in commands.items():
    expect([CLI, *name.split(), "--"], {"--" + o for o in opts})
    # After an option that takes a value, and its value, options still complete.
    expect([CLI, *name.split(), "--policy", "/x", "--"] if "policy" in opts else [CLI, *name.split(), "--"],
           {"--" + o for o in opts})

work = tempfile.mkdtemp(prefix="cli_completion.")
try:
    policy = os.path.join(work, "p.json")
    shutil.copy(os.path.join(DATA, "valid.policy.json"), policy)
    shutil.copytree(os.path.join(DATA, "policy.d"), os.path.join(work, "p.d"))
    prefix = os.path.join(work, "p")
    files = {policy, os.path.join(work, "p.d")}

    # Policy paths complete as files and folders, in every spelling.
    expect([CLI, "check", prefix], files)
    expect([CLI, "explain", "--policy", prefix], files)
    expect([CLI, "explain", "--policy", "=", prefix], files)
    expect([CLI, "tenant", "add", "--policy", prefix], files)
    expect([CLI, "learn", "--policy", policy, "--write", prefix], files)
    expect([CLI, "learn", "--policy", policy, prefix], files)
    # Tenant ids from the policy named on the line (a file or a folder).
    expect([CLI, "explain", "--policy", policy, "--tenant", ""], {"site-a", "site-b"})
    expect([CLI, "run", "--policy=" + policy, "--tenant", "site-"], {"site-a", "site-b"})
    expect([CLI, "tenant", "remove", "--policy", os.path.join(work, "p.d"), "s"], {"site-a", "site-b"})
    expect([CLI, "explain", "--tenant", ""], set())  # no policy given: nothing to list
    # explain's operation, then its path.
    expect([CLI, "explain", "--policy", policy, "--tenant", "site-a", ""], {"read", "write", "exec", "connect"})
    expect([CLI, "explain", "--policy", policy, "--tenant", "site-a", "read", prefix], files)
    expect([CLI, "explain", "--policy", policy, "--tenant", "site-a", "connect", ""], set())
    # run: COMMAND after --, from PATH.
    expect([CLI, "run", "--policy", policy, "--tenant", "site-a", "--", "ech"], {"echo"}, exact=False)
    expect([CLI, "run", "--policy", policy, "--tenant", "site-a", "--", "/bin/sh", prefix], files)
    expect([CLI, "help", "tena"], {"tenant"})
finally:
    shutil.rmtree(work)

for p in problems:
    print("FAIL:", p)
print(f"{len(commands)} commands checked against {COMPLETION}")
sys.exit(1 if problems else 0)
