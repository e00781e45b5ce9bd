"""The 'thorough' hypothesis profile reaches every property test."""

import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_fixes_its_own_example_count():
    fixed = [f"{path.name}:{number}" for path in sorted(TESTS.glob("test_*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if re.search(r"max_examples\s*=", line)]
    assert fixed == [], "use @examples(n) from hypothesis_profiles, which the profile scales"


def test_examples_scale_with_the_profile():
    code = "import hypothesis_profiles as h; print(h.examples(50).max_examples, h.examples(1).max_examples)"
    for profile, expected in [("ci", "50 1"), ("thorough", "600 12")]:
        out = subprocess.run([sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=True,
                             env={"HYPOTHESIS_PROFILE": profile, "PATH": ""})
        assert out.stdout.split() == expected.split()
