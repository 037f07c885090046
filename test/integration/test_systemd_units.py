"""The systemd units in config/systemd are valid, hardened and consistent with the code.

Runs offline, as root or not, with no systemd running: `systemd-analyze verify` and
`systemd-analyze security --offline` only read unit files. ExecStart names /usr/bin/pfo3, which
is not installed here, so the units are checked from a temporary copy whose ExecStart points at
$PFO3_BIN (the built pfo3) or, when that is unset, at `true`: verify only checks that the
command is executable. The checker itself is tested on units with a typo, so a verify that
silently accepts everything cannot pass.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS_DIR = REPO / "config" / "systemd"
SERVE = "pfo3-serve.service"
WORKER = "pfo3-worker@.service"
TARGET = "pfo3-workers.target"
UNITS = [SERVE, WORKER, TARGET]
SERVICES = [SERVE, WORKER]
INSTALLED_BIN = "/usr/bin/pfo3"
INSTALLED_CONFIG = "/etc/pfo3/pfo3.toml"

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed (apt-get install systemd)")


# ---------------------------------------------------------------- helpers

def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> [(key, value)] in order; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"directive outside a section: {raw!r}"
        assert "=" in line, f"not KEY=VALUE: {raw!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    return parse_unit((UNITS_DIR / name).read_text())


def values(sections, section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


def one(sections, section: str, key: str) -> str:
    found = values(sections, section, key)
    assert len(found) == 1, f"[{section}] {key}= expected once, found {found}"
    return found[0]


def stand_in_binary() -> str:
    """The executable ExecStart is pointed at for verify."""
    path = os.environ.get("PFO3_BIN")
    if path:
        assert os.path.isfile(path) and os.access(path, os.X_OK), f"PFO3_BIN={path} is not an executable file"
        return os.path.abspath(path)
    found = shutil.which("true")
    assert found, "no `true` executable on PATH"
    return found


def stage(tmp: Path, binary: str | None, edit=None) -> list[Path]:
    """Copies the units into tmp, ExecStart's /usr/bin/pfo3 replaced by `binary` (unless None),
    then `edit(name, text) -> text` applied. Also adds an instance of the worker template."""
    staged = []
    for name in UNITS:
        text = (UNITS_DIR / name).read_text()
        if binary is not None:
            text = re.sub(r"^(ExecStart=[-@:+!]*)" + re.escape(INSTALLED_BIN) + r"\b",
                          lambda m: m.group(1) + binary, text, flags=re.M)
        if edit is not None:
            text = edit(name, text)
        path = tmp / name
        path.write_text(text)
        staged.append(path)
    instance = tmp / "pfo3-worker@1.service"
    shutil.copyfile(tmp / WORKER, instance)
    staged.append(instance)
    return staged


def verify_problems(paths: list[Path]) -> list[str]:
    """What `systemd-analyze verify` objects to. Unknown keys and unparsable values are only
    warnings to it ("…, ignoring", exit status 0), so any diagnostic naming one of our files
    counts, as does a non-zero exit."""
    proc = subprocess.run(
        [ANALYZE, "verify", "--man=no", "--generators=no", *map(str, paths)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    names = {p.name for p in paths}
    lines = (proc.stdout + proc.stderr).splitlines()
    problems = [ln for ln in lines
                if any(n in ln for n in names) or "ignoring" in ln or "Unknown" in ln]
    if proc.returncode != 0:
        problems.append(f"exit status {proc.returncode}: {' | '.join(lines)}")
    return problems


def seconds(timespan: str) -> float:
    """A systemd time span ("15s", "1min 30s", "45") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60,
             "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
             "ms": 0.001, "msec": 0.001}
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", timespan.strip())
    assert parts, f"not a time span: {timespan!r}"
    for number, unit_name in parts:
        assert unit_name in units, f"unknown time unit in {timespan!r}"
        total += float(number) * units[unit_name]
    return total


def default_grace_s(struct: str) -> int:
    """shutdown_grace_s's default in `struct` of lib/config settings.hpp (the contract)."""
    header = (REPO / "lib/config/include/pfo3/config/settings.hpp").read_text()
    body = re.search(r"struct\s+" + struct + r"\s*\{(.*?)\};", header, re.S)
    assert body, f"struct {struct} not found in settings.hpp"
    value = re.search(r"shutdown_grace_s\s*=\s*(\d+)", body.group(1))
    assert value, f"{struct}::shutdown_grace_s not found in settings.hpp"
    return int(value.group(1))


def example_grace_s(section: str) -> int | None:
    """[section] shutdown_grace_s in the documented example config, if it sets one."""
    path = REPO / "config" / "pfo3.toml"
    if not path.exists():
        return None
    import tomllib
    with path.open("rb") as f:
        data = tomllib.load(f)
    value = data.get(section, {}).get("shutdown_grace_s")
    return int(value) if value is not None else None


# ---------------------------------------------------------------- systemd-analyze verify

@needs_analyze
def test_units_pass_systemd_analyze_verify(tmp_path):
    assert verify_problems(stage(tmp_path, stand_in_binary())) == []


@needs_analyze
@pytest.mark.parametrize("name,good,typo", [
    (SERVE, "ProtectSystem=", "ProtectSytem="),
    (WORKER, "NoNewPrivileges=", "NoNewPrivilege="),
    (TARGET, "WantedBy=", "WanteBy="),
])
def test_verify_catches_a_typo_in_a_directive(tmp_path, name, good, typo):
    def edit(n, text):
        if n != name:
            return text
        assert good in text
        return text.replace(good, typo, 1)
    problems = verify_problems(stage(tmp_path, stand_in_binary(), edit))
    assert any(typo.rstrip("=") in p for p in problems), problems


@needs_analyze
@pytest.mark.parametrize("name,good,bad", [
    (SERVE, "TimeoutStopSec=15s", "TimeoutStopSec=15q"),
    (WORKER, "Restart=on-failure", "Restart=on-falure"),
    (WORKER, "RestrictAddressFamilies=AF_INET ", "RestrictAddressFamilies=AF_INTE "),
])
def test_verify_catches_an_impossible_value(tmp_path, name, good, bad):
    def edit(n, text):
        if n != name:
            return text
        assert good in text, f"{good!r} not in {name}"
        return text.replace(good, bad, 1)
    assert verify_problems(stage(tmp_path, stand_in_binary(), edit)) != []


@needs_analyze
def test_verify_catches_a_missing_executable(tmp_path):
    problems = verify_problems(stage(tmp_path, str(tmp_path / "no-such-pfo3")))
    assert any("no-such-pfo3" in p for p in problems), problems


# ---------------------------------------------------------------- security

@needs_analyze
@pytest.mark.parametrize("name", SERVICES)
def test_service_exposure_stays_low(tmp_path, name):
    # The threshold is in tenths of the printed score: 20 means "2.0", well inside "OK".
    path = next(p for p in stage(tmp_path, stand_in_binary()) if p.name == name)
    proc = subprocess.run([ANALYZE, "security", "--offline=yes", "--threshold=20", "--no-pager", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


# ---------------------------------------------------------------- required directives

HARDENING = {
    "DynamicUser": "yes", "User": "pfo3", "StateDirectory": "pfo3", "ProtectSystem": "strict",
    "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "RestrictRealtime": "yes", "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
}


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_notify_restarting_and_hardened(name):
    u = unit(name)
    assert one(u, "Service", "Type") == "notify"
    assert one(u, "Service", "NotifyAccess") == "main"
    assert one(u, "Service", "Restart") == "on-failure"
    assert one(u, "Service", "KillSignal") == "SIGTERM"
    for key, expected in HARDENING.items():
        assert one(u, "Service", key) == expected, key


@pytest.mark.parametrize("name,role", [(SERVE, "serve"), (WORKER, "work")])
def test_exec_start_runs_the_role_with_the_system_config(name, role):
    argv = one(unit(name), "Service", "ExecStart").split()
    assert argv == [INSTALLED_BIN, "--config", INSTALLED_CONFIG, role]


def test_serve_may_hold_many_connections():
    assert int(one(unit(SERVE), "Service", "LimitNOFILE")) >= 65536


@pytest.mark.parametrize("name,struct,section", [
    (SERVE, "serve_settings", "serve"), (WORKER, "work_settings", "work")])
def test_stop_timeout_leaves_room_for_the_grace_period(name, struct, section):
    grace = max(default_grace_s(struct), example_grace_s(section) or 0)
    stop = seconds(one(unit(name), "Service", "TimeoutStopSec"))
    # A few seconds beyond the grace: after it the role still closes the broker connection.
    assert stop >= grace + 5, f"TimeoutStopSec={stop}s but {section}.shutdown_grace_s={grace}s"


def test_workers_are_grouped_by_the_target():
    worker, target = unit(WORKER), unit(TARGET)
    assert TARGET in values(worker, "Unit", "PartOf")
    assert TARGET in values(worker, "Install", "WantedBy")
    assert "multi-user.target" in values(target, "Install", "WantedBy")
    assert "multi-user.target" in values(unit(SERVE), "Install", "WantedBy")


# ---------------------------------------------------------------- the real binary

@pytest.mark.skipif(not os.environ.get("PFO3_BIN"), reason="PFO3_BIN not set (the built pfo3)")
@pytest.mark.parametrize("name,role_option", [(SERVE, "--listen"), (WORKER, "--prefetch")])
def test_binary_accepts_the_exec_start_command_line(tmp_path, name, role_option):
    # `--help` after the command prints that command's help; a misspelt command would print the
    # root help (exit 0 too), which lacks the role's own options.
    config = tmp_path / "pfo3.toml"
    config.write_text("# empty: built-in defaults\n")
    argv = one(unit(name), "Service", "ExecStart").split()
    argv = [os.environ["PFO3_BIN"] if a == INSTALLED_BIN else str(config) if a == INSTALLED_CONFIG else a
            for a in argv]
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{argv} --help: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert role_option in proc.stdout, f"{argv} --help does not show the role's help:\n{proc.stdout}"
