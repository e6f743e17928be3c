"""Shared test fixtures.

``official_dir`` is the folder of real gov.scot files. In CI (``CI=true``) and under
``make test`` it is always set, and a test that needs it fails rather than skips when it is
missing; only an ad-hoc ``pytest`` run on a machine without the files skips those tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def official_dir() -> Path:
    value = os.environ.get("NLC_EVAL_OFFICIAL_DATA", "")
    if not value:
        if os.environ.get("CI"):
            pytest.fail("NLC_EVAL_OFFICIAL_DATA is not set in CI; .ci/run must set it")
        pytest.skip("NLC_EVAL_OFFICIAL_DATA not set (make test sets it)")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"NLC_EVAL_OFFICIAL_DATA={value} does not exist")
    return path
