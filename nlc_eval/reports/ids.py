"""Report ids: which cluster or family a report is about, and its file name.

A leaf module shared by the batch (:mod:`nlc_eval.reports.batch`) and the report sections
(:mod:`nlc_eval.reports.sections`), so that neither has to import the other.

Examples
--------
>>> report_name("cluster", "Cluster 07")
'cluster-07'
>>> resolve_ids(["07"], ["Cluster 07", "Cluster 10"], "cluster")
['Cluster 07']
"""

from __future__ import annotations

from collections.abc import Sequence

from nlc_eval.errors import ReportError
from nlc_eval.reports.jobs import slug


def _short(kind: str, ident: str) -> str:
    """``cluster`` + ``Cluster 07`` -> ``07``: the id without a repeated kind word."""
    s = slug(ident)
    return s[len(kind) + 1:] if s.startswith(f"{kind}-") and len(s) > len(kind) + 1 else s


def report_name(kind: str, ident: str) -> str:
    """File base name of a cluster or family report, e.g. ``cluster-07``."""
    return f"{kind}-{_short(kind, ident)}"


def resolve_ids(requested: Sequence[str] | str | None, valid: Sequence[str], what: str) -> list[str]:
    """Turn ``"all"`` / a list of ids into valid ids, or raise a :class:`ReportError`.

    An id matches exactly, case-insensitively, or by its short form (``07`` for
    ``Cluster 07``).

    Raises
    ------
    ReportError
        Naming the unknown ids and listing every valid one.
    """
    if requested is None:
        return []
    if isinstance(requested, str):
        requested = [requested]
    requested = [str(r) for r in requested]
    if not requested or [r.lower() for r in requested] == ["all"]:
        return list(valid)
    lookup: dict[str, str] = {}
    for v in valid:
        for key in (v, v.lower(), slug(v), _short(what, v)):
            lookup.setdefault(key, v)
    chosen, unknown = [], []
    for r in requested:
        match = lookup.get(r) or lookup.get(r.lower()) or lookup.get(slug(r))
        if match is None:
            unknown.append(r)
        elif match not in chosen:
            chosen.append(match)
    if unknown:
        listing = ", ".join(valid) if valid else f"none (no {what}s in this data)"
        raise ReportError(f"unknown {what} id(s): {', '.join(unknown)}. "
                          f"Valid {what} ids: {listing}.")
    return chosen


def check_id(ident: str | None, valid: Sequence[str], what: str) -> str:
    """One valid id: ``ident`` itself, or the first valid id when ``ident`` is empty.

    Raises
    ------
    ReportError
        For an unknown id (listing the valid ones) or when there are no ids at all.
    """
    if not valid:
        raise ReportError(f"there are no {what}s in this data, so no {what} report can be "
                          "made.")
    if ident in ("", None):
        return valid[0]
    return resolve_ids([str(ident)], valid, what)[0]
