"""The command line shows the kit's warnings as plain notes, once each."""

from __future__ import annotations

import warnings

from nlc_eval import cli
from nlc_eval.impact.inference import FewClustersWarning


def test_kit_warnings_are_one_plain_line_each_and_shown_once(capsys):
    others = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, *a, **k: others.append(category)
        warnings.showwarning = cli._plain_warnings("reports")
        for _ in range(3):
            warnings.warn("only 4 schools are treated", FewClustersWarning, stacklevel=1)
        warnings.warn("a library's own warning", DeprecationWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err == "nlc-eval reports: note: only 4 schools are treated\n"   # once, no source
    assert others == [DeprecationWarning]        # other packages' warnings shown as usual
