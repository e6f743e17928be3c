"""The state of an output folder across batches: its lock, what is up to date, what is stale.

An output folder holds the reports of many runs: the whole authority once, then one
cluster again after a correction. This module keeps the index and the manifest true to
the folder:

- :class:`FolderLock` lets one batch at a time write a folder; a second one is refused at
  once with the holder's process id, host, user, start time and command. The lock is an
  advisory ``flock`` on ``.nlc-eval.lock`` (removed when the batch ends), so a batch
  killed even with SIGKILL releases it.
- :func:`fingerprint` of a report covers its notebook's content, its parameters (not the
  per-run context folder), the SHA-256 of every input file and the kit itself (version
  and source); a report is re-run only when it changed (or with ``force``).
- :func:`merge` keeps the entries of reports this batch did not run, marking as stale
  those whose inputs, notebook or kit changed since they were produced, and adds any page
  in the folder the manifest does not know.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import socket
import sys
from dataclasses import fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlc_eval.errors import ReportError
from nlc_eval.reports.manifest import sha256_file

LOCK_NAME = ".nlc-eval.lock"
#: Batches (selection + inputs) remembered in the manifest for an instant unchanged rerun.
BATCH_KEYS_KEPT = 20
#: Parameters that change every run without changing the report.
VOLATILE_PARAMETERS = frozenset({"context", "output_json"})
#: Pages of the folder that are not reports.
NOT_REPORTS = frozenset({"index", "status"})
#: The lock file of the pinned environment, beside the package in a checkout.
ROOT = Path(__file__).resolve().parents[2]
LOCK_FILES = ("requirements.lock",)

_HELD: dict[str, int] = {}


class FolderLock:
    """Exclusive use of an output folder by one batch (re-entrant within a process).

    Parameters
    ----------
    folder : path-like
        The output folder (created if needed).

    Raises
    ------
    ReportError
        On entry, when another process holds the folder: the message says who.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder).resolve()
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        import fcntl

        key = str(self.folder)
        if key in _HELD:
            _HELD[key] += 1
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise ReportError(
                    f"the output folder {self.folder} is in use by another batch ({holder}). "
                    "Fix: wait for that batch to finish, or give another --out folder."
                ) from None
            # the holder before us removes the file as it lets go: lock the file that is there
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        _HELD[key] = 1
        return self

    def __exit__(self, *exc: object) -> None:
        key = str(self.folder)
        if _HELD.get(key, 0) > 1:
            _HELD[key] -= 1
            return
        _HELD.pop(key, None)
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked, so no one else holds it
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "holder unknown"
    return (f"process {info.get('pid')} of {info.get('user')} on {info.get('host')}, "
            f"started {info.get('started')}: {info.get('command')}")


# ---------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def kit_fingerprint() -> str:
    """SHA-256 of the kit: its version and the content of every module of the package."""
    from importlib import metadata

    import nlc_eval

    h = hashlib.sha256()
    try:
        h.update(metadata.version("nlc_eval").encode())
    except metadata.PackageNotFoundError:
        h.update(b"unversioned")
    pkg = Path(nlc_eval.__file__).resolve().parent
    for p in sorted(pkg.rglob("*.py")):
        h.update(str(p.relative_to(pkg)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_digest(hashed: list[dict[str, Any]]) -> str:
    """One digest of the ``[{"path", "sha256"}]`` list of the batch's input files."""
    h = hashlib.sha256()
    for item in sorted(hashed, key=lambda i: str(i["path"])):
        h.update(f"{item['path']}\0{item['sha256']}\n".encode())
    return h.hexdigest()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint_parts(notebook: str | Path, parameters: dict[str, Any], inputs: str,
                      kit: str | None = None) -> dict[str, str]:
    """What a report depends on: notebook, parameters, inputs and kit digests."""
    nb = Path(notebook)
    return {"notebook": sha256_file(nb) if nb.is_file() else "missing",
            "parameters": _digest({k: v for k, v in parameters.items()
                                   if k not in VOLATILE_PARAMETERS}),
            "inputs": inputs, "kit": kit or kit_fingerprint()}


def fingerprint(parts: dict[str, str]) -> str:
    """One digest of :func:`fingerprint_parts`."""
    return _digest(parts)


_REASONS = {"notebook": "its notebook changed", "parameters": "its parameters changed",
            "inputs": "the input files changed", "kit": "the kit changed"}


def stale_reason(entry: dict[str, Any], inputs: str, kit: str | None = None) -> str:
    """Why a report produced earlier is out of date now ("" when it is not)."""
    old = entry.get("fingerprint_parts")
    if not isinstance(old, dict):
        return "produced by a run that recorded no fingerprint"
    now = fingerprint_parts(entry.get("notebook", ""), entry.get("parameters") or {},
                            inputs, kit)
    changed = [_REASONS[k] for k in _REASONS if old.get(k) != now[k]]
    return "; ".join(changed) + (" since it was produced" if changed else "")


# ---------------------------------------------------------------------------
# The folder
# ---------------------------------------------------------------------------

def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The folder's ``manifest.json`` ({} when absent or unreadable)."""
    path = Path(folder) / "manifest.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def previous_entries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Report name -> its manifest entry."""
    out = {}
    for e in doc.get("reports") or []:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            out[e["name"]] = e
    return out


def published_names(folder: str | os.PathLike) -> set[str]:
    """Names of every file under ``folder`` (pages beside, downloads in sub-folders)."""
    names: set[str] = set()
    for _, _, files in os.walk(folder):
        names.update(files)
    return names


def is_current(entry: dict[str, Any] | None, fp: str, folder: str | os.PathLike,
               present: set[str] | None = None) -> bool:
    """True when a published report has this fingerprint and all its files are there.

    ``present`` is :func:`published_names` of the folder (computed when not given).
    """
    if not entry or entry.get("status") != "ok" or entry.get("fingerprint") != fp:
        return False
    if not (Path(folder) / f"{entry['name']}.html").is_file():
        return False
    names = published_names(folder) if present is None else present
    return all(Path(f).name in names for f in entry.get("files") or [])


def outcome_fields(entry: dict[str, Any], cls) -> dict[str, Any]:
    """The keys of a manifest entry that ``cls`` (a dataclass) accepts."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in entry.items() if k in names}


def merge(current: list[dict[str, Any]], previous: dict[str, dict[str, Any]],
          folder: str | os.PathLike, inputs: str, kit: str | None = None
          ) -> list[dict[str, Any]]:
    """Every report of the folder: this batch's entries, then the earlier ones kept.

    Earlier entries whose page is gone are dropped; those still there are checked
    against the current inputs, notebooks and kit and marked ``stale`` (with
    ``stale_reason``) when out of date. Pages with no entry at all are added as stale.
    """
    folder = Path(folder)
    out = list(current)
    names = {e["name"] for e in current}
    for name, e in previous.items():
        if name in names:
            continue
        e = dict(e)
        if e.get("status") == "ok" and not (folder / f"{name}.html").is_file():
            continue
        if e.get("status") != "ok" and name not in names:
            out.append(e)
            names.add(name)
            continue
        reason = stale_reason(e, inputs, kit)
        e["stale"], e["stale_reason"] = bool(reason), reason
        out.append(e)
        names.add(name)
    for page in sorted(folder.glob("*.html")):
        name = page.stem
        if name in names or name in NOT_REPORTS or name.startswith("."):
            continue
        out.append({"name": name, "kind": name.split("-", 1)[0], "ident": "", "title": name,
                    "notebook": "", "parameters": {}, "status": "ok", "error": "",
                    "headlines": [], "files": [page.name], "stale": True,
                    "stale_reason": "not in the manifest (its run's record was lost)"})
        names.add(name)
    return out


def clean_leftovers(folder: str | os.PathLike) -> list[str]:
    """Remove scratch files a killed batch left (call while holding the folder's lock)."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.name.startswith(".staging-") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
        elif p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def lock_file_info(root: str | os.PathLike | None = None) -> dict[str, str] | None:
    """``{"path", "sha256"}`` of the environment's lock file, when the checkout has one."""
    base = Path(root) if root else ROOT
    for name in LOCK_FILES:
        p = base / name
        if p.is_file():
            return {"path": name, "sha256": sha256_file(p)}
    return None
