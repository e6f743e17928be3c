"""Where the kit finds its inputs.

The official Scottish Government files are never copied into the project: the user says
where they are, with ``--data DIR`` on the command line or the environment variable
``NLC_EVAL_OFFICIAL_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlc_eval.errors import DataError

ENV_OFFICIAL = "NLC_EVAL_OFFICIAL_DATA"
ENV_EXTRACTS = "NLC_EVAL_EXTRACTS"


def official_data_dir(path: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """Resolve the directory holding the official files.

    Parameters
    ----------
    path : path-like, optional
        Explicit directory (e.g. from ``--data``). Wins over the environment.
    required : bool
        If True (default) raise :class:`DataError` when no directory is given or it does
        not exist; if False return None when none is configured.
    """
    chosen = path if path not in (None, "") else os.environ.get(ENV_OFFICIAL) or None
    if chosen is None:
        if required:
            raise DataError(
                "no directory of official files was given.",
                fix=f"pass --data DIR or set {ENV_OFFICIAL} to the folder holding the "
                "gov.scot school statistics files.",
            )
        return None
    p = Path(chosen).expanduser()
    if not p.is_dir():
        raise DataError(
            "the official data directory does not exist.",
            file=p,
            fix=f"check the path given with --data or {ENV_OFFICIAL}.",
        )
    # absolute, so notebooks and kernels running in another directory find the same files
    return p.resolve()
