"""Pandera schemas of every tidy table the kit produces or accepts.

Official (school-level) tables come first, then the council's pupil-level extracts.
Loaders validate with ``lazy=True`` and turn pandera's failure cases into
:class:`nlc_eval.errors.DataError` messages naming file, column and row.
"""

from __future__ import annotations

import pandera.pandas as pa  # noqa: F401

# ---------------------------------------------------------------------------
# Official school-level tables (nlc_eval.data.official)
# ---------------------------------------------------------------------------

# ---- end of official schemas ----

# ---------------------------------------------------------------------------
# Council pupil-level extracts (nlc_eval.data.extracts)
# ---------------------------------------------------------------------------

# ---- end of extract schemas ----
