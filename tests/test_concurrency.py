"""Two scores computed at once in threads of one process (a threaded Dask worker) each see
their own settings, record their own plugins and give the numbers they give alone.

Barriers make the threads overlap where it matters, so each test fails every time the state
it checks is shared; every wait has a timeout, so a broken lock fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from brainmark.registry import (
    BUILTIN_ROOT,
    benchmark_registry,
    data_registry,
    import_plugin,
    metric_registry,
    model_registry,
    record_plugin_usage,
    stimulus_set_registry,
)
from brainmark.scoring import score_model
from brainmark.settings import get_settings, override_settings

TIMEOUT_S = 120
_Result = TypeVar("_Result")


def run_at_once(*calls: Callable[[], _Result]) -> list[_Result]:
    """Run each call in a thread of its own, all at once; their results, in order."""
    pool = ThreadPoolExecutor(max_workers=len(calls))
    try:
        futures = [pool.submit(call) for call in calls]
        return [future.result(timeout=TIMEOUT_S) for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_threads_each_see_only_their_own_settings_overrides(tmp_path, brainmark_home):
    both_inside = threading.Barrier(2, timeout=TIMEOUT_S)

    def home_seen_inside(home: Path) -> tuple[Path, Path]:
        with override_settings(home=home):
            both_inside.wait()
            seen = get_settings().home
            both_inside.wait()  # neither block ends before the other thread has read
        return seen, get_settings().home

    homes = [tmp_path / "first", tmp_path / "second"]
    seen = run_at_once(*(lambda home=home: home_seen_inside(home) for home in homes))
    assert seen == [(homes[0], brainmark_home), (homes[1], brainmark_home)]
    assert get_settings().home == brainmark_home


def test_an_override_reaches_another_thread_only_through_a_copied_context(
    tmp_path, brainmark_home
):
    with override_settings(home=tmp_path), ThreadPoolExecutor(max_workers=1) as pool:
        plain = pool.submit(get_settings).result(timeout=TIMEOUT_S)
        copied = pool.submit(contextvars.copy_context().run, get_settings).result(
            timeout=TIMEOUT_S
        )
    assert plain.home == brainmark_home
    assert copied.home == tmp_path


def test_asyncio_tasks_each_see_only_their_own_settings_overrides(tmp_path):
    async def both_homes() -> list[Path]:
        both_inside = asyncio.Barrier(2)

        async def home_seen_inside(home: Path) -> Path:
            with override_settings(home=home):
                await both_inside.wait()
                seen = get_settings().home
                await both_inside.wait()
            return seen

        homes = [tmp_path / "first", tmp_path / "second"]
        return await asyncio.wait_for(
            asyncio.gather(*(home_seen_inside(home) for home in homes)), TIMEOUT_S
        )

    assert asyncio.run(both_homes()) == [tmp_path / "first", tmp_path / "second"]


def test_threads_each_record_exactly_the_plugins_they_looked_up():
    both_recording = threading.Barrier(2, timeout=TIMEOUT_S)

    def record(lookups: list[tuple[object, str]]) -> set[Path]:
        with record_plugin_usage() as used:
            both_recording.wait()
            for registry, identifier in lookups:
                registry[identifier]
            both_recording.wait()  # neither stops recording before the other looked up
        return used

    pixels = [(model_registry, "pixels"), (data_registry, "Kriegeskorte2008.mIT"),
              (stimulus_set_registry, "Kriegeskorte2008")]
    coggan = [(benchmark_registry, "Coggan2024.V1-rdm"), (data_registry, "Coggan2024.V1"),
              (metric_registry, "rdm")]
    recorded = run_at_once(lambda: record(pixels), lambda: record(coggan))
    assert recorded == [
        {BUILTIN_ROOT / "models" / "pixels", BUILTIN_ROOT / "data" / "kriegeskorte2008"},
        {BUILTIN_ROOT / "benchmarks" / "coggan2024", BUILTIN_ROOT / "data" / "coggan2024",
         BUILTIN_ROOT / "metrics" / "similarity"},
    ]


SLOW_PLUGIN = """
    import time
    from pathlib import Path

    from brainmark.registry import model_registry

    with open(Path(__file__).parents[2] / "imports.log", "a") as log:
        log.write("imported\\n")
    time.sleep(0.3)  # a slow import (torch, weights): the other threads ask meanwhile
    model_registry["slow-{unique}"] = dict
    COMPLETE = True
"""


@pytest.mark.parametrize("by", ["import_plugin", "registry lookup"])
def test_threads_importing_one_plugin_at_once_import_it_once(
    plugin_root, unique, make_plugin, by
):
    folder = make_plugin(plugin_root, "slow", SLOW_PLUGIN.format(unique=unique))
    threads = 8
    all_started = threading.Barrier(threads, timeout=TIMEOUT_S)

    def load() -> object:
        all_started.wait()
        if by == "import_plugin":
            return import_plugin(folder).COMPLETE
        return model_registry[f"slow-{unique}"]

    expected = True if by == "import_plugin" else dict
    assert run_at_once(*[load] * threads) == [expected] * threads
    assert (plugin_root / "imports.log").read_text() == "imported\n"


@pytest.mark.slow
def test_two_scores_at_once_give_what_each_gives_alone(tmp_path):
    pairs = [("pixels", "Coggan2024.V1-rdm"), ("gabor-v1", "Kiani2007.IT-rdm")]

    def score_in_own_home(model: str, benchmark: str, home: Path) -> tuple:
        with override_settings(home=home):
            record = score_model(model, benchmark)
        assert not record.cached
        return record.score, record.raw, record.ceiling, dict(record.plugins)

    alone = [
        score_in_own_home(model, benchmark, tmp_path / f"alone-{model}")
        for model, benchmark in pairs
    ]
    together = run_at_once(*(
        lambda model=model, benchmark=benchmark: score_in_own_home(
            model, benchmark, tmp_path / f"together-{model}"
        )
        for model, benchmark in pairs
    ))
    assert together == alone
    assert set(alone[0][3]) == {"models/pixels", "benchmarks/coggan2024", "data/coggan2024",
                                "metrics/similarity", "metrics/ceiling"}
    # Kiani2007's ceiling is 1 by definition: no ceiling metric is looked up.
    assert set(alone[1][3]) == {"models/gabor_v1", "benchmarks/kriegeskorte2008",
                                "data/kriegeskorte2008", "metrics/similarity"}
