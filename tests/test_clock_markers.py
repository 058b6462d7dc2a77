"""The clock-shifted pass is structural: every test module that reads or moves the wall clock
is marked ``clock`` (tests/campaigns and tests/notifications are marked as a whole), and
``make test`` runs the marked tests 12 hours away from the real clock, and the others at the
real hour, each once."""

import re
from pathlib import Path

import pytest

from tests.conftest import CLOCK_PACKAGES

TESTS_DIR = Path(__file__).resolve().parent
BASE_DIR = TESTS_DIR.parent
CLOCK_READS = re.compile(
    r"timezone\.now\(|datetime\.now\(|\.today\(|localdate\(|localtime\(|utcnow\("
    r"|time_machine|snooze|expires_at|due_at|timedelta\("
)
NOW_IN_A_CHILD = "import datetime as d; print(d.datetime.now(d.UTC).isoformat())"
MARKED = re.compile(r"pytestmark\s*=.*pytest\.mark\.clock|@pytest\.mark\.clock")
# A module that mentions the clock but whose outcome cannot depend on it says why, in one line.
INDEPENDENT = re.compile(r'^CLOCK_INDEPENDENT = "[^"]{20,}"$', re.M)


def test_every_module_that_reads_the_clock_is_marked():
    unmarked = []
    for path in sorted(TESTS_DIR.rglob("test_*.py")):
        relative = path.relative_to(TESTS_DIR)
        if relative.parts[0] in CLOCK_PACKAGES or path == Path(__file__):
            continue
        source = path.read_text()
        if CLOCK_READS.search(source) and not (MARKED.search(source) or INDEPENDENT.search(source)):
            unmarked.append(str(relative))
    assert not unmarked, (
        "These test modules read the clock but are not marked: add "
        "`pytestmark = pytest.mark.clock` (and freeze the clock where the outcome depends on "
        "it) so `make test` also runs them 12 hours shifted, or, when the outcome cannot "
        f'depend on the clock, `CLOCK_INDEPENDENT = "why"`: {unmarked}'
    )


def test_make_test_runs_the_clock_tests_shifted_and_the_rest_once():
    makefile = (BASE_DIR / "Makefile").read_text()
    recipe = re.search(r"^test:.*?(?=^\S)", makefile, re.M | re.S)
    assert recipe, "Makefile has no test target"
    runs = re.findall(r"pytest .*", recipe.group(0))
    assert len(runs) == 2, runs
    assert '-m "not clock or slow"' in runs[0] and "--clock-shift" not in runs[0]
    assert re.search(r'-m "clock and not slow" .*--clock-shift \$\(CLOCK_SHIFT\)', runs[1])
    assert re.search(r"^CLOCK_SHIFT \?= 12$", makefile, re.M)


@pytest.mark.clock
def test_a_shifted_run_moves_the_clock_of_the_test_and_of_its_children(request):
    import datetime as dt
    import os
    import subprocess
    import sys

    hours = request.config.getoption("--clock-shift") or 0
    expected = dt.datetime.now(dt.UTC)
    # Without site (so without tests/clock/sitecustomize.py): the real clock.
    real = dt.datetime.fromtimestamp(
        float(
            subprocess.run(
                [sys.executable, "-S", "-c", "import time; print(time.time())"],
                capture_output=True,
                text=True,
                check=True,
                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            ).stdout
        ),
        dt.UTC,
    )
    child = dt.datetime.fromisoformat(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import datetime as d; print(d.datetime.now(d.UTC).isoformat())",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    shift = dt.timedelta(hours=hours)
    assert abs(expected - (real + shift)) < dt.timedelta(seconds=30)
    assert abs(child - expected) < dt.timedelta(seconds=30)
