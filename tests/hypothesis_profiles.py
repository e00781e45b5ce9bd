"""Hypothesis profiles, and property tests' example counts scaled from the loaded profile.

'ci' (loaded when CI=true) is derandomized, so CI runs are repeatable; 'dev' is the local
default; HYPOTHESIS_PROFILE=thorough draws 12 times as many examples everywhere.
"""

import os

from hypothesis import HealthCheck, settings

EXAMPLES = 25  # per property test in 'ci' and 'dev'

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=EXAMPLES, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=12 * EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def examples(count):
    """``@examples(50)``: 50 examples in 'ci' and 'dev', scaled like every other test under another profile.

    A test that wants more (or fewer) examples than the default says so through this, never
    with ``settings(max_examples=...)``, which a profile cannot reach.
    """
    return settings(max_examples=max(1, round(count * settings.default.max_examples / EXAMPLES)))
