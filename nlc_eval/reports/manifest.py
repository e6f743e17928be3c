"""What a batch ran on: input file hashes, package versions, parameters and durations."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

#: Packages whose versions are recorded in every manifest.
PACKAGES = ("nlc_eval", "pandas", "numpy", "scipy", "scikit-learn", "statsmodels",
            "matplotlib", "seaborn", "papermill", "nbclient", "nbconvert", "ipykernel",
            "pandera", "openpyxl")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def input_files(*folders: str | Path | None) -> list[Path]:
    """Every regular, non-hidden file under the given folders (``None`` entries skipped)."""
    files: list[Path] = []
    for folder in folders:
        if folder is None or str(folder) == "":
            continue
        folder = Path(folder)
        if folder.is_file():
            files.append(folder)
            continue
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
                files.append(p)
    return files


def hash_inputs(paths: Iterable[str | Path]) -> list[dict[str, object]]:
    """``[{"path", "bytes", "sha256"}]`` for each file, in the order given."""
    out = []
    for p in paths:
        p = Path(p)
        out.append({"path": str(p.resolve()), "bytes": p.stat().st_size,
                    "sha256": sha256_file(p)})
    return out


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` plus Python and the platform."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the checkout holding ``path`` (the package by default), if any."""
    where = Path(path or Path(__file__).resolve().parent)
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
