"""Keep ``requirements.lock`` in step with the dependencies declared in ``pyproject.toml``.

The lock (every package pinned, with hashes; made by ``make lock``) starts with a line
``# pyproject-dependencies-sha256: <digest>``: the SHA-256 of ``requires-python``, the
dependencies and the optional dependencies of ``pyproject.toml``. ``make install`` runs
``python nlc_eval/_lockfile.py check`` first, which fails, saying to run ``make lock``,
when the declared dependencies changed since the lock was made (other edits of
``pyproject.toml``, such as tool settings, do not matter).

Standard library only, so it runs before anything is installed::

    python nlc_eval/_lockfile.py digest          # print the digest of pyproject.toml
    python nlc_eval/_lockfile.py stamp LOCK      # write the digest line into LOCK
    python nlc_eval/_lockfile.py check LOCK      # exit 1 with the fix when they differ
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "# pyproject-dependencies-sha256: "


def digest(pyproject: str | Path = ROOT / "pyproject.toml") -> str:
    """SHA-256 of the dependency declarations of ``pyproject``."""
    meta = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    declared = {"requires-python": meta.get("requires-python", ""),
                "dependencies": sorted(meta.get("dependencies", [])),
                "optional-dependencies": {k: sorted(v) for k, v in
                                          sorted(meta.get("optional-dependencies", {}).items())}}
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


def recorded(lock: str | Path) -> str | None:
    """The digest written in a lock file (None if it has none)."""
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        if line.startswith(PREFIX):
            return line[len(PREFIX):].strip()
    return None


def stamp(lock: str | Path, pyproject: str | Path = ROOT / "pyproject.toml") -> None:
    """Write (or replace) the digest line at the top of ``lock``."""
    path = Path(lock)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if not ln.startswith(PREFIX)]
    path.write_text("\n".join([PREFIX + digest(pyproject), *lines]) + "\n", encoding="utf-8")


def check(lock: str | Path, pyproject: str | Path = ROOT / "pyproject.toml") -> str | None:
    """None when ``lock`` matches ``pyproject``; else what is wrong and the fix."""
    path = Path(lock)
    if not path.is_file():
        return f"{path.name} is missing. Fix: run `make lock` and commit {path.name}."
    have = recorded(path)
    if have != digest(pyproject):
        return (f"the dependencies in {Path(pyproject).name} changed since {path.name} was "
                f"made. Fix: run `make lock` (it keeps every other pin) and commit "
                f"{path.name}.")
    return None


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("digest", "stamp", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    lock = argv[1] if len(argv) > 1 else str(ROOT / "requirements.lock")
    if argv[0] == "digest":
        print(digest())
        return 0
    if argv[0] == "stamp":
        stamp(lock)
        return 0
    problem = check(lock)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
