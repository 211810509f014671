"""What `tenant-sandbox --help` says: its commands and each command's options.

The help is printed from the table the option parser reads
(libsandbox/cli/options.cpp), so it is the one source the man page
(cli_help_man.py) and the bash completion (cli_completion.py) are checked
against. Layout it relies on: a "commands:" section of "  NAME SYNOPSIS"
lines, an "options:" section of "  [-x, ]--name[ VALUE|[=VALUE]]  help"
lines; a command with commands of its own (tenant) lists them the same way.
"""
import re
import subprocess


def run_help(cli, *words):
    r = subprocess.run([cli, *words, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join([cli, *words])} --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def section(text, title):
    """The lines of the `title:` section, up to the next line not indented."""
    lines, inside = [], False
    for line in text.splitlines():
        if line == title + ":":
            inside = True
        elif inside and not line.startswith("  "):
            break
        elif inside:
            lines.append(line)
    return lines


def options(help_text):
    """{name: kind} of the options section; kind is flag, value or optional."""
    out = {}
    for line in section(help_text, "options"):
        m = re.match(r"^  (?:-\w, )?--([a-z][a-z0-9-]*)(\[=| |$)", line)
        if m:
            rest = line[m.end(1):]
            kind = "optional" if rest.startswith("[=") else "value" if re.match(r" [A-Z]", rest) else "flag"
            out[m.group(1)] = kind
    return out


def command_names(help_text):
    names = []
    for line in section(help_text, "commands"):
        m = re.match(r"^  ([a-z][a-z-]*)(?: |$)", line)
        if m and m.group(1) not in names:
            names.append(m.group(1))
    return names


def commands(cli):
    """{"check": {options}, ..., "tenant add": {options}, ...}"""
    out = {}
    for name in command_names(run_help(cli)):
        text = run_help(cli, name)
        subs = command_names(text)
        if not subs:
            out[name] = options(text)
        for sub in subs:
            out[f"{name} {sub}"] = options(run_help(cli, name, sub))
    return out


def top_options(cli):
    return options(run_help(cli))
