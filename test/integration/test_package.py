"""The man page (docs/man/pfo3.1) and the bash completion (config/completion/pfo3.bash) say what
the binary's own help says, so neither can go stale silently: every command and option of
`pfo3 --help` and `pfo3 COMMAND --help` is in the man page's section for that command, and the
completion offers exactly those options. The package itself (install, run, remove) is checked
by test/services/package-check.sh, which needs root; these need neither root nor a broker.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from helpers.processes import REPO, pfo3_bin

MAN_PAGE = REPO / "docs" / "man" / "pfo3.1"
COMPLETION = REPO / "config" / "completion" / "pfo3.bash"
# Options every command accepts because it falls through to the program's (main.cpp).
FALLTHROUGH = {"--config", "--log-level", "--log-format"}


# ---------------------------------------------------------------- the binary's help

@cache
def help_text(*command: str) -> str:
    return subprocess.run([pfo3_bin(), *command, "--help"], capture_output=True, text=True,
                          check=True, timeout=30).stdout


@cache
def help_of(*command: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """(options, subcommands) of `pfo3 COMMAND... --help`: "-n,--tasks UINT" gives -n and --tasks."""
    options, subcommands, section = set(), [], None
    for line in help_text(*command).splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            section = line[:-1]
            continue
        first = re.match(r"^  (\S+)", line)  # two spaces; wrapped descriptions have more
        if not first:
            continue
        if section == "Options":
            options.update(re.split(r"[{\[:=]", name)[0] for name in first.group(1).split(","))
        elif section == "Subcommands":
            subcommands.append(first.group(1))
    assert options, f"no options parsed from pfo3 {' '.join(command)} --help"
    return frozenset(options), tuple(subcommands)


def commands() -> tuple[str, ...]:
    return help_of()[1]


def long_options(options) -> set[str]:
    return {o for o in options if o.startswith("--")}


# ---------------------------------------------------------------- the man page

def man_text(roff: str) -> str:
    """Roff source as words: \\- is a hyphen, font escapes go."""
    return re.sub(r"\\f[BIRP]", "", roff.replace("\\-", "-"))


@cache
def man_sections() -> dict[str, str]:
    """'.SH NAME' and '.SS "pfo3 serve"' headings -> their text (a .SS is also inside its .SH)."""
    sections: dict[str, str] = {}
    current_sh = current_ss = None
    for line in MAN_PAGE.read_text().splitlines():
        heading = re.match(r'^\.(SH|SS)\s+"?([^"]*)"?\s*$', line)
        if heading:
            if heading.group(1) == "SH":
                current_sh, current_ss = heading.group(2), None
            else:
                current_ss = heading.group(2)
            continue
        for name in (current_sh, current_ss):
            if name:
                sections[name] = sections.get(name, "") + man_text(line) + "\n"
    return sections


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_help_lists_the_commands_this_test_knows_of():
    # The checks below iterate over what the help says; make sure the parse found something.
    assert {"serve", "work", "send", "status", "dead", "bench", "workers"} <= set(commands())
    assert help_of("dead")[1] == ("list", "requeue", "purge")


@pytest.mark.parametrize("command", ["serve", "work", "send", "status", "dead", "bench", "workers"])
def test_man_page_documents_every_option_of_the_command(command):
    assert command in commands()
    sections = man_sections()
    assert f"pfo3 {command}" in sections, f'no .SS "pfo3 {command}" in {MAN_PAGE}'
    assert mentions(sections["SYNOPSIS"], command), f"{command} is not in the SYNOPSIS"
    text = sections[f"pfo3 {command}"]
    missing = sorted(o for o in help_of(command)[0] - {"-h", "--help"} if not mentions(text, o))
    for sub in help_of(command)[1]:
        assert mentions(text, sub), f"pfo3 {command} {sub} is not in the man page"
        assert mentions(sections["SYNOPSIS"], sub), f"pfo3 {command} {sub} is not in the SYNOPSIS"
        missing += sorted(o for o in help_of(command, sub)[0] - {"-h", "--help"}
                          if not mentions(text, o))
    assert not missing, f"pfo3 {command} --help lists options the man page does not: {missing}"


def test_man_page_covers_every_command_of_the_help():
    # A new command appears in `pfo3 --help`; the parametrised test above would not know of it.
    missing = [c for c in commands() if f"pfo3 {c}" not in man_sections()]
    assert not missing, f"commands of pfo3 --help without a man page section: {missing}"


def test_man_page_documents_the_global_options():
    text = man_sections()["GLOBAL OPTIONS"]
    missing = sorted(o for o in help_of()[0] if not mentions(text, o))
    assert not missing, f"global options missing from the man page: {missing}"


def test_man_page_lists_every_environment_variable_and_exit_status():
    sources = (REPO / "lib" / "config" / "src" / "environment.cpp").read_text() + \
              (REPO / "lib" / "config" / "src" / "load.cpp").read_text()
    variables = set(re.findall(r'"(PFO3_[A-Z_]+)"', sources))
    assert {"PFO3_AMQP_URL", "PFO3_CONFIG"} <= variables
    environment = man_sections()["ENVIRONMENT"]
    missing = sorted(v for v in variables if not mentions(environment, v))
    assert not missing, f"environment variables missing from the man page: {missing}"

    codes = re.findall(r"exit_\w+\s*=\s*(\d+)", (REPO / "app" / "common.hpp").read_text())
    assert len(codes) >= 5
    exit_status = man_sections()["EXIT STATUS"]
    missing = [c for c in codes if not re.search(rf"^\.B {c}$", exit_status, re.M)]
    assert not missing, f"exit statuses missing from the man page: {missing}"


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db not installed")
def test_man_page_renders_without_warnings():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    run = subprocess.run(["man", "--warnings", "-l", str(MAN_PAGE)], capture_output=True,
                         text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", f"man warns:\n{run.stderr}"
    assert "pfo3 serve" in run.stdout and "EXIT STATUS" in run.stdout


# ---------------------------------------------------------------- the bash completion

def complete(*words: str) -> list[str]:
    """COMPREPLY of _pfo3 for the command line `words` (the last one is being completed)."""
    script = ('source "$1"; shift; complete -p pfo3 >/dev/null; '
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pfo3; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    run = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", str(COMPLETION),
                          *words], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return [w for w in run.stdout.splitlines() if w]


def test_completion_completes_the_commands():
    assert sorted(complete("pfo3", "se")) == ["send", "serve"]
    assert sorted(complete("pfo3", "")) == sorted(commands())
    assert sorted(complete("pfo3", "--log-level", "debug", "s")) == ["send", "serve", "status"]
    assert sorted(complete("pfo3", "dead", "--queue", "q", "")) == sorted(help_of("dead")[1])
    assert complete("pfo3", "send", "") == []  # payloads: nothing to offer


def test_completion_offers_exactly_the_options_of_the_help():
    assert set(complete("pfo3", "--")) == long_options(help_of()[0])
    for command in commands():
        offered = set(complete("pfo3", command, "--"))
        assert offered == long_options(help_of(command)[0]) | FALLTHROUGH, command
        for sub in help_of(command)[1]:
            offered = set(complete("pfo3", command, sub, "--"))
            expected = long_options(help_of(command, sub)[0] | help_of(command)[0]) | FALLTHROUGH
            assert offered == expected, f"{command} {sub}"


def test_completion_offers_the_values_the_help_allows():
    levels = re.search(r"--log-level TEXT:\{([^}]*)\}", help_text()).group(1).split(",")
    assert complete("pfo3", "--log-level", "") == levels
    formats = re.search(r"--log-format TEXT:\{([^}]*)\}", help_text()).group(1).split(",")
    assert complete("pfo3", "serve", "--log-format", "") == formats
    assert complete("pfo3", "--config", str(MAN_PAGE)[:-1]) == [str(MAN_PAGE)]
