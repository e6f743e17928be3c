"""nlc_eval: research and evaluation kit for a Scottish local authority's education service.

Family groups of similar schools, honest estimates of what targeted supports changed, and
disclosure-safe reports run from parameterised notebooks.
"""

from nlc_eval.errors import (
    ConstraintError,
    DataError,
    DisclosureError,
    ImpactError,
    NlcEvalError,
    ReportError,
)

__version__ = "0.1.0"

__all__ = [
    "ConstraintError",
    "DataError",
    "DisclosureError",
    "ImpactError",
    "NlcEvalError",
    "ReportError",
    "__version__",
]
