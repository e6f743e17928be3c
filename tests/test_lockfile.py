"""requirements.lock pins every declared dependency, with hashes, in step with
pyproject.toml and environment.yml; make install refuses a lock older than pyproject."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from nlc_eval import _lockfile

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every package in the lock."""
    text = LOCK.read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if m:
            out[m.group(1).lower().replace("_", "-")] = (m.group(2),
                                                         block.count("--hash=sha256:"))
    return out


def test_lock_matches_the_declared_dependencies():
    assert _lockfile.check(LOCK) is None, _lockfile.check(LOCK)


def test_every_declared_dependency_is_pinned_with_hashes():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in meta["dependencies"]}
    for extra in ("test", "dask"):
        declared |= {_name(r) for r in meta["optional-dependencies"][extra]}
    pins = _pins()
    assert declared - set(pins) == set(), f"not in the lock: {declared - set(pins)}"
    unhashed = [n for n, (_, k) in pins.items() if k == 0]
    assert unhashed == [], f"pinned without a hash: {unhashed}"
    assert len(pins) > len(declared)  # the transitive dependencies are pinned too


def test_environment_yml_has_the_lock_versions():
    pins = _pins()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = [d for d in env["dependencies"] if isinstance(d, str)]
    specs += [d for d in next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]]
    for spec in specs:
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)$", spec)
        if m:
            name = m.group(1).lower()
            assert pins[name][0] == m.group(2), f"{name}: {m.group(2)} vs lock {pins[name][0]}"


def test_install_refuses_a_lock_older_than_pyproject(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(LOCK, tmp_path / "requirements.lock")
    assert _lockfile.check(tmp_path / "requirements.lock", tmp_path / "pyproject.toml") is None
    text = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        text.replace('dependencies = [\n', 'dependencies = [\n    "requests>=2",\n', 1))
    problem = _lockfile.check(tmp_path / "requirements.lock", tmp_path / "pyproject.toml")
    assert problem and "make lock" in problem
    # tool settings are not dependencies: changing them needs no new lock
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "pyproject.toml", "a") as fh:
        fh.write("\n[tool.example]\nsetting = 1\n")
    assert _lockfile.check(tmp_path / "requirements.lock", tmp_path / "pyproject.toml") is None


def test_make_install_checks_the_lock_first():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    out = subprocess.run(["make", "--no-print-directory", "-n", "-B", "install"], cwd=ROOT,
                         capture_output=True, text=True, check=True, env=env).stdout.splitlines()
    out = [ln for ln in out if not ln.startswith("make[")]   # run from inside make test
    assert "_lockfile.py check requirements.lock" in out[0]
    assert any("--require-hashes -r requirements.lock" in ln for ln in out)
    bad = subprocess.run([sys.executable, str(ROOT / "nlc_eval" / "_lockfile.py"), "check",
                          str(ROOT / "no-such.lock")], capture_output=True, text=True)
    assert bad.returncode == 1 and "make lock" in bad.stderr
