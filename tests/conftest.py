"""Shared test settings: hypothesis profiles.

Choose a profile with the ``HYPOTHESIS_PROFILE`` environment variable:

* ``fast`` (the default): derandomized (a fixed seed per test), few examples, no example
  database. Deterministic, and quick enough for every ``pytest`` run.
* ``ci``: derandomized as well, with more examples; prints a reproduction blob on failure.
* ``dev``: randomized with many examples, to hunt for new counterexamples locally
  (``HYPOTHESIS_PROFILE=dev python -m pytest tests/specs -q``). Not deterministic.
"""

import os

import pytest

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast",
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def stderr_recorder() -> str:
    """The start of a script run in a fresh process: `main` imported from rldsl's command line and
    `sys.stderr` replaced by `recorder`, whose `seen` lists each text written with whether torch
    was imported at that moment (the "loading torch…" line must come before torch)."""
    return (
        "import sys\nfrom rldsl.cli import main\n"
        "class Recorder:\n"
        "    encoding = 'utf-8'\n"
        "    def __init__(self): self.seen = []\n"
        "    def write(self, text): self.seen.append((text, 'torch' in sys.modules)); return len(text)\n"
        "    def flush(self): pass\n"
        "recorder = sys.stderr = Recorder()\n"
    )
