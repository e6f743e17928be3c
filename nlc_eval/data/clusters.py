"""School clusters: the council's own list, or an approximation from school locations.

A cluster is a secondary school with its associated primaries (and partners). The real
membership is the council's list, read by :func:`load_clusters`. Without it,
:func:`approximate_clusters` builds a stand-in.

APPROXIMATION
-------------
:func:`approximate_clusters` does NOT know the council's catchment areas. It puts each
primary school with the NEAREST secondary school (straight-line distance between the
coordinates of the roll-and-locations file) of the same denomination in the same local
authority:

- Roman Catholic primaries join the nearest Roman Catholic secondary; non-denominational
  primaries the nearest non-denominational secondary.
- A primary of another denomination (e.g. Episcopalian), and any primary whose
  denomination has no secondary in its authority, joins the nearest non-denominational
  secondary, or failing that the nearest secondary of any denomination.
- Special (ASN) schools serve the whole authority rather than a catchment; they join the
  nearest secondary of any denomination, unless they are Roman Catholic, in which case
  the Roman Catholic rule applies.
- Each secondary leads its own cluster, named after it.

Real catchments follow roads, history and parental choice, so some schools will sit in a
different cluster in the council's list. Every row says so: ``approximate`` is True.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from nlc_eval.data._text import decode_text
from nlc_eval.errors import DataError

APPROXIMATION_NOTE = (
    "Approximate clusters: each primary joins the nearest secondary of the same "
    "denomination (straight-line distance), special schools the nearest secondary; the "
    "council's own cluster list should be used where available (load_clusters)."
)

ROMAN_CATHOLIC = "Roman Catholic"
NON_DENOMINATIONAL = "Non-denominational"
EARTH_RADIUS_KM = 6371.0088

__all__ = ["approximate_clusters", "load_clusters", "cluster_slug", "APPROXIMATION_NOTE"]


def cluster_slug(name: str) -> str:
    """A short readable id from a school name.

    Examples
    --------
    >>> cluster_slug("St Andrew's High School")
    'st-andrews-high'
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = text.lower().replace("'", "").replace("&", " and ")
    text = re.sub(r"\bschool\b", " ", text)
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text or "cluster"


def _one_row_per_school(schools: pd.DataFrame, table: str) -> pd.DataFrame:
    needed = ["seed_code", "sector", "school_name", "local_authority", "denomination"]
    missing = [c for c in needed if c not in schools.columns]
    if missing:
        raise DataError(f"columns {missing} are missing.", table=table, column=missing[0],
                        fix="pass rows of load_school_statistics (one year).")
    if "year" in schools.columns and schools["year"].nunique() > 1:
        raise DataError(f"the schools table holds {schools['year'].nunique()} years.",
                        table=table, column="year",
                        fix="pass one year, e.g. schools[schools.year == 2024].")
    dup = schools.duplicated(["seed_code", "sector"])
    if dup.any():
        code = schools.loc[dup, "seed_code"].iloc[0]
        raise DataError(f"seed code {code} appears twice with the same sector.", table=table,
                        column="seed_code", fix="pass one row per (seed_code, sector).")
    return schools.reset_index(drop=True)


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
               lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between each point 1 (rows) and each point 2 (cols)."""
    p1, p2 = np.radians(lat1)[:, None], np.radians(lat2)[None, :]
    dlat = p2 - p1
    dlon = np.radians(lon2)[None, :] - np.radians(lon1)[:, None]
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _coordinates(schools: pd.DataFrame, locations: pd.DataFrame) -> pd.DataFrame:
    for c in ("seed_code", "latitude", "longitude"):
        if c not in locations.columns:
            raise DataError(f"column {c!r} is missing.", table="locations", column=c,
                            fix="pass the table of load_school_locations.")
    loc = locations.copy()
    loc["seed_code"] = loc["seed_code"].astype(str)
    if "sector" in loc.columns:
        by_sector = loc.drop_duplicates(["seed_code", "sector"]).set_index(
            ["seed_code", "sector"])[["latitude", "longitude"]]
        keyed = pd.MultiIndex.from_arrays([schools["seed_code"].astype(str), schools["sector"]])
        coords = by_sector.reindex(keyed).reset_index(drop=True)
    else:
        coords = pd.DataFrame(index=schools.index, columns=["latitude", "longitude"])
    # a seed code listed under another sector (e.g. a special unit) still gives its site
    by_code = loc.drop_duplicates("seed_code").set_index("seed_code")[["latitude", "longitude"]]
    fallback = by_code.reindex(schools["seed_code"].astype(str)).reset_index(drop=True)
    coords = coords.astype(float).fillna(fallback.astype(float))
    missing = coords["latitude"].isna() | coords["longitude"].isna()
    if missing.any():
        codes = schools.loc[missing.to_numpy(), "seed_code"].astype(str).tolist()
        raise DataError(
            f"{len(codes)} school(s) have no coordinates in the locations table: "
            f"{codes[:10]}{' ...' if len(codes) > 10 else ''}.",
            table="locations", column="seed_code",
            fix="use a roll-and-locations file that lists these schools, or give the "
            "council's cluster list with load_clusters.")
    return coords


def _group(denomination: object) -> str:
    return ROMAN_CATHOLIC if str(denomination) == ROMAN_CATHOLIC else NON_DENOMINATIONAL


def approximate_clusters(schools: pd.DataFrame, locations: pd.DataFrame) -> pd.DataFrame:
    """Approximate clusters: each school joins the nearest secondary of its denomination.

    Parameters
    ----------
    schools : DataFrame
        One year of :func:`nlc_eval.data.official.load_school_statistics` (any number of
        authorities; clusters never cross an authority boundary).
    locations : DataFrame
        :func:`nlc_eval.data.official.load_school_locations` (latitude, longitude).

    Returns
    -------
    DataFrame
        One row per school (``seed_code``, ``sector``, ``school_name``,
        ``local_authority``, ``denomination``), with ``cluster`` (the secondary's name),
        ``cluster_id`` (a slug of it, unique), ``secondary_seed_code``, ``distance_km``,
        ``rule`` (which rule placed the school) and ``approximate`` = True.
        ``attrs["note"]`` repeats :data:`APPROXIMATION_NOTE`. See the module docstring
        for the rules.

    Raises
    ------
    DataError
        Missing columns, several years, a school without coordinates, or an authority
        without a secondary school.
    """
    schools = _one_row_per_school(schools, "schools")
    coords = _coordinates(schools, locations)
    lat, lon = coords["latitude"].to_numpy(), coords["longitude"].to_numpy()
    sector = schools["sector"].astype(str).to_numpy()
    la = schools["local_authority"].astype(str).to_numpy()
    denom = schools["denomination"].astype("string").fillna("").to_numpy()
    group = np.array([_group(d) for d in denom])

    chosen = np.full(len(schools), -1)
    dist = np.full(len(schools), np.nan)
    rule = np.full(len(schools), "", dtype=object)
    for authority in pd.unique(la):
        in_la = la == authority
        sec = np.flatnonzero(in_la & (sector == "secondary"))
        if len(sec) == 0:
            raise DataError(f"{authority} has no secondary school to build clusters around.",
                            table="schools", column="sector",
                            fix="include the authority's secondary schools.")
        chosen[sec] = sec
        dist[sec] = 0.0
        rule[sec] = "secondary leads its cluster"
        others = np.flatnonzero(in_la & (sector != "secondary"))
        if len(others) == 0:
            continue
        d = _haversine(lat[others], lon[others], lat[sec], lon[sec])
        for k, i in enumerate(others):
            is_special = sector[i] == "special"
            if is_special and group[i] != ROMAN_CATHOLIC:
                pool, why = np.ones(len(sec), bool), "special: nearest secondary"
            elif denom[i] in (ROMAN_CATHOLIC, NON_DENOMINATIONAL):
                pool = group[sec] == group[i]
                why = f"nearest {group[i]} secondary"
            else:
                pool = group[sec] == NON_DENOMINATIONAL
                why = f"{denom[i] or 'unknown'} denomination: nearest Non-denominational " \
                      "secondary"
            if not pool.any():
                pool = np.ones(len(sec), bool)
                why = f"no {group[i]} secondary in {authority}: nearest secondary"
            cand = np.where(pool, d[k], np.inf)
            j = int(np.argmin(cand))
            chosen[i], dist[i], rule[i] = sec[j], d[k, j], why

    lead = schools.iloc[chosen]
    out = schools[["seed_code", "sector", "school_name", "local_authority",
                   "denomination"]].copy()
    out["cluster"] = lead["school_name"].astype(str).to_numpy()
    out["secondary_seed_code"] = lead["seed_code"].astype(str).to_numpy()
    slugs = pd.Series([cluster_slug(n) for n in out["cluster"]], index=out.index)
    # the same secondary name in two authorities: make the id unique with the seed code
    clash = slugs.groupby(slugs).transform(
        lambda s: out.loc[s.index, "secondary_seed_code"].nunique() > 1)
    slugs[clash] = slugs[clash] + "-" + out.loc[clash, "secondary_seed_code"]
    out["cluster_id"] = slugs
    out["distance_km"] = dist.astype(float).round(3)
    out["rule"] = rule
    out["approximate"] = True
    out = _validated(out, None)
    out.attrs["note"] = APPROXIMATION_NOTE
    return out


def _validated(out: pd.DataFrame, file: Path | None) -> pd.DataFrame:
    from nlc_eval.data.schemas import CLUSTERS, validate_official_table

    for c in ("seed_code", "sector", "school_name", "cluster", "cluster_id"):
        out[c] = out[c].astype("string")
    out["approximate"] = out["approximate"].astype(bool)
    return validate_official_table(out.reset_index(drop=True), CLUSTERS, file=file)


def load_clusters(path: str | os.PathLike, schools: pd.DataFrame) -> pd.DataFrame:
    """Read the council's cluster list (CSV ``seed_code, cluster``) and check it.

    Parameters
    ----------
    path : path-like
        CSV file with columns ``seed_code`` and ``cluster`` (header names are matched
        case-insensitively; other columns are ignored).
    schools : DataFrame
        The schools that must each belong to one cluster (one year of
        ``load_school_statistics``, usually one authority).

    Returns
    -------
    DataFrame
        One row per school of ``schools`` (``seed_code``, ``sector``, ``school_name``),
        with ``cluster``, ``cluster_id`` (slug of the cluster name) and
        ``approximate`` = False.

    Raises
    ------
    DataError
        Empty or unreadable file, missing column, blank or malformed seed code, a seed
        code listed twice, seed codes not among the schools, or schools left without a
        cluster.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError("the cluster list does not exist.", file=file,
                        fix="give the path of the council's CSV of seed_code, cluster.")
    if file.suffix.lower() != ".csv":
        raise DataError(f"unknown format {file.suffix or '(no extension)'!r}.", file=file,
                        fix="save the cluster list as CSV with columns seed_code, cluster.")
    text = decode_text(file.read_bytes(), file)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError("the cluster list is empty.", file=file,
                        fix="write one row per school: seed_code, cluster.") from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise DataError(f"the cluster list cannot be read as CSV ({exc}).", file=file,
                        fix="save it as CSV with columns seed_code, cluster.") from exc
    raw.columns = [str(c).strip().lower().replace(" ", "_") for c in raw.columns]
    for c in ("seed_code", "cluster"):
        if c not in raw.columns:
            raise DataError(f"column {c!r} is missing (found {list(raw.columns)}).",
                            file=file, column=c,
                            fix="the first line must be the header: seed_code,cluster")
    if raw.empty:
        raise DataError("the cluster list has a header but no rows.", file=file,
                        fix="write one row per school: seed_code, cluster.")
    codes = raw["seed_code"].str.strip().str.replace(r"\.0+$", "", regex=True)
    names = raw["cluster"].str.strip()
    for i, (code, name) in enumerate(zip(codes, names, strict=True)):
        if not re.fullmatch(r"\d+", code):
            raise DataError(f"seed code {code!r} is not a string of digits.", file=file,
                            column="seed_code", row=i + 2, fix="correct the seed code.")
        if name == "":
            raise DataError(f"school {code} has a blank cluster.", file=file,
                            column="cluster", row=i + 2, fix="name its cluster.")
    dup = codes.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"seed code {codes.iloc[i]} is listed twice.", file=file,
                        column="seed_code", row=i + 2,
                        fix="list each school once (a combined campus once, for both its "
                        "primary and secondary rows).")
    known = set(schools["seed_code"].astype(str))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise DataError(f"{len(unknown)} seed code(s) are not among the schools: "
                        f"{unknown[:10]}.", file=file, column="seed_code",
                        fix="correct them, or pass the schools of the right year and "
                        "authority.")
    mapping = dict(zip(codes, names, strict=True))
    out = schools[["seed_code", "sector", "school_name"]].reset_index(drop=True).copy()
    out["seed_code"] = out["seed_code"].astype(str)
    out["cluster"] = out["seed_code"].map(mapping)
    orphans = out.loc[out["cluster"].isna(), "seed_code"].tolist()
    if orphans:
        raise DataError(f"{len(orphans)} school(s) have no cluster: {orphans[:10]}.",
                        file=file, column="seed_code",
                        fix="add a row seed_code,cluster for each of them.")
    out["cluster_id"] = out["cluster"].map(cluster_slug)
    out["approximate"] = False
    return _validated(out, file)
