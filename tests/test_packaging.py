"""The conda environment and pyproject.toml list the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> tuple[set[str], set[str]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in meta["dependencies"]}
    extras = {_name(r) for reqs in meta["optional-dependencies"].values() for r in reqs}
    return runtime, extras


def _conda() -> tuple[set[str], set[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(r) for r in dep.get("pip", []) if not r.startswith("-")}
        else:
            conda.add(_name(dep))
    conda -= {"python", "pip"}
    return conda, pip


def test_environment_matches_pyproject():
    runtime, extras = _pyproject()
    conda, pip = _conda()
    listed = conda | pip
    assert runtime - listed == set(), f"in pyproject.toml but not environment.yml: {runtime - listed}"
    assert extras - listed == set(), f"extras missing from environment.yml: {extras - listed}"
    assert listed - (runtime | extras) == set(), (
        f"in environment.yml but not pyproject.toml: {listed - (runtime | extras)}"
    )


def test_console_script_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["scripts"]["nlc-eval"] == "nlc_eval.cli:main"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
