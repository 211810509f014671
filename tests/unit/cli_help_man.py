#!/usr/bin/env python3
"""cli_help_man.py CLI MANPAGE: fails when the man page and --help disagree.

From the binary: every command and its options (cli_help.py). From the man
page source: one `.SS NAME` per command under COMMANDS, whose `.TP` terms
are the options it documents; the SYNOPSIS lines; the EXAMPLES.

  - every command has its .SS section and a SYNOPSIS line, and every .SS
    section is a command;
  - a command's .TP options are exactly its --help options (--help itself
    is documented once, under OPTIONS, with --version);
  - every --option the page mentions in a command's section, its SYNOPSIS
    line or an example is one that command accepts -- checked by running it,
    too: the parser must not call it unknown.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_help  # noqa: E402

OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def plain(line):
    """A roff source line as text: escapes and font changes dropped."""
    line = line.replace("\\-", "-").replace("\\e", "\\")
    line = re.sub(r"\\f[BIRP]|\\f\(..|\\\(..|\\&", "", line)
    line = re.sub(r'^\.(B|I|BI|BR|IB|IR|RB|RI|TP|TQ)\b ?', "", line)
    return line.replace('"', "")


def sections(lines):
    """{".SH name": [lines]} and, under COMMANDS, {".SS name": [lines]}."""
    out, current, sh = {}, None, None
    for line in lines:
        m = re.match(r'^\.(SH|SS) "?([^"]*)"?$', line)
        if m:
            current = (m.group(1), m.group(2))
            if m.group(1) == "SS" and sh != "COMMANDS":
                raise SystemExit(f"unexpected .SS {m.group(2)} outside COMMANDS")
            if m.group(1) == "SH":
                sh = m.group(2)
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def tp_terms(lines):
    """The options named by the .TP (and .TQ) terms of a section."""
    terms = set()
    for i, line in enumerate(lines):
        if line in (".TP", ".TQ") and i + 1 < len(lines):
            term = plain(lines[i + 1]).strip()
            if term.startswith("-"):
                terms.update(OPTION.findall(term))
    return terms


def main():
    cli, man = sys.argv[1], sys.argv[2]
    with open(man, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith('.\\"')]
    secs = sections(lines)
    cmds = cli_help.commands(cli)
    top = cli_help.top_options(cli)
    problems = []
    all_accepted = set(top)
    for opts in cmds.values():
        all_accepted |= set(opts)

    # Top-level options under OPTIONS.
    documented = tp_terms(secs.get(("SH", "OPTIONS"), []))
    if documented != set(top):
        problems.append(f"OPTIONS documents {sorted(documented)}, tenant-sandbox --help lists {sorted(top)}")

    # One .SS per command, its .TP options those of --help.
    man_cmds = {name for (kind, name) in secs if kind == "SS"}
    for name in sorted(man_cmds - set(cmds)):
        problems.append(f".SS {name}: not a command of tenant-sandbox --help")
    for name, opts in cmds.items():
        if name not in man_cmds:
            problems.append(f"command '{name}' has no .SS section under COMMANDS")
            continue
        body = secs[("SS", name)]
        terms = tp_terms(body)
        want = set(opts) - {"help"}
        for o in sorted(want - terms):
            problems.append(f"{name} --{o}: in --help, not documented in its man section")
        for o in sorted(terms - want):
            problems.append(f"{name} --{o}: documented in the man page, not accepted (not in --help)")
        for o in sorted(set(OPTION.findall("\n".join(plain(l) for l in body))) - all_accepted):
            problems.append(f"{name}: its man section mentions --{o}, which no command accepts")

    # SYNOPSIS and EXAMPLES: each command line's options are that command's.
    def check_line(where, text):
        words = text.split()
        if "tenant-sandbox" not in words:
            return None
        rest = words[words.index("tenant-sandbox") + 1:]
        name = " ".join(rest[:2]) if " ".join(rest[:2]) in cmds else rest[0] if rest else ""
        if name not in cmds:
            return None
        before_dashdash = text.split(" -- ")[0]
        for o in OPTION.findall(before_dashdash):
            if o not in cmds[name]:
                problems.append(f"{where}: '{name} --{o}' but {name} does not accept --{o}")
        return name

    synopsis, current = set(), []
    for line in secs.get(("SH", "SYNOPSIS"), []) + [".br"]:
        if line == ".br":
            name = check_line("SYNOPSIS", " ".join(current))
            if name:
                synopsis.add(name)
            current = []
        else:
            current.append(plain(line))
    for name in cmds:
        if name not in synopsis:
            problems.append(f"command '{name}' is missing from the SYNOPSIS")
    example = ""
    for line in secs.get(("SH", "EXAMPLES"), []):
        text = plain(line)
        example += text.rstrip("\\").rstrip() + " "
        if not text.endswith("\\"):
            check_line("EXAMPLES", example)
            example = ""

    # The parser itself must accept every option the page documents.
    env = dict(os.environ, TENANT_SANDBOX_STATE_DIR="/nonexistent-ts-state")
    for name, opts in cmds.items():
        for o, kind in opts.items():
            if o == "help":
                continue
            arg = f"--{o}=x" if kind != "flag" else f"--{o}"
            r = subprocess.run([cli, *name.split(), arg], capture_output=True, text=True, env=env, timeout=30,
                               stdin=subprocess.DEVNULL)
            if "unknown option" in r.stderr or "takes no value" in r.stderr or "needs a value" in r.stderr:
                problems.append(f"{name} {arg}: refused by the parser: {r.stderr.splitlines()[0]}")

    for p in problems:
        print("FAIL:", p)
    print(f"{len(cmds)} commands, {sum(len(o) for o in cmds.values())} options checked against {man}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
