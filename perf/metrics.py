"""Time every metric and ceiling, compare PLS with scikit-learn, and measure peak memory.

It also compares the two internal-consistency halves (``per_stimulus``, ``by_repetition``)
with the known reliability of synthetic data, complete and NaN-padded
(``internal_consistency_halves``; the table in ``docs/scores.md``).

Prints JSON and writes it to ``perf/results/metrics.json``. Each measurement runs in
its own subprocess (``python perf/metrics.py --one NAME SHAPE``) so its peak memory
is that process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (data generation and the
interpreter included), not polluted by earlier measurements. BLAS is limited to one
thread (threadpoolctl) everywhere, for both brainmark and scikit-learn, so the ratio
compares algorithms, not thread counts.

Shapes: ``reference`` is a typical IT benchmark (2,560 stimuli, 4,096 model features, 168
neuroids, 64 objects, 10 splits); ``small`` is 200 stimuli x 1,000 features -> 128
neuroids, 8 objects (a split's 20 test stimuli cannot be stratified over more than 20).
Ceilings: internal consistency on 2,000 trials x 128 neuroids (200 stimuli x 10
repetitions) and on the reference shape with 10 repetitions (25,600 trials x 168); RDM
ceiling on 16 subjects x 92 stimuli (as Mur 2013); behavioral metrics on 10 subjects x 160
images x 16 labels (as Geirhos 2021).

Every metric with a bootstrap interval is also timed without it (``resamples = 0``),
interleaved with the timed calls with it: ``interval_overhead_percent`` is what the
interval adds to the time of a score. A metric slower than the repeat budget gets one call
of each, which load on a shared machine makes noisy, so ``interval_cost_reference`` times
pls at the reference shape in 3 interleaved pairs (``python -P perf/metrics.py
--interval-cost`` redoes only that one, into the existing JSON).

Each metric is first called once on tiny data (imports, first-call costs), then timed
``REPEATS`` times (fewer when a call takes over ``REPEAT_BUDGET_S``); ``seconds`` is the
fastest call, the closest to the metric's own cost on a machine other jobs share.

Usage: ``python -P perf/metrics.py`` (about 5 minutes on one core; ``-P`` keeps
perf/ off the import path, where ``perf/platform.py`` would hide the standard library's).
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

SHAPES = {"reference": (2560, 4096, 168), "small": (200, 1000, 128)}
OBJECTS = {"reference": 64, "small": 8}
NEURAL_METRICS = ("pls", "ridge", "ridgecv", "linear", "cka", "rdm")
SKLEARN_SPLITS_TIMED = 2
CONVERGED_MAX_ITER = 200_000  # 20,000 NIPALS iterations leave a split of the small shape short
REPEATS = 5
RDM_REFERENCE_RESAMPLES = 100
REPEAT_BUDGET_S = 3.0


def neural_data(shape: str, repetitions: int = 1):
    from brainmark.testing._metrics import neural_assemblies

    n, p, q = SHAPES[shape]
    model, data = neural_assemblies(n, p, q, n_repetitions=repetitions, noise=1.0, seed=0,
                                    objects=OBJECTS[shape])
    return model, data


def measure(name: str, shape: str) -> dict:
    """Run one measurement in this process; returns seconds and details."""
    from brainmark import load_metric
    from brainmark.testing._metrics import behavioral_assemblies, rdm_assembly

    result: dict = {}
    if name not in ("sklearn_pls", "interval_cost"):
        # Warm up on tiny data so lazy imports and first-call costs are not timed.
        from brainmark.testing._metrics import _arguments

        metric = load_metric(name)
        metric(*_arguments(getattr(metric, "kind", "neural")))
    if name in NEURAL_METRICS:
        model, data = neural_data(shape)
        metric = load_metric(name)
        if name == "rdm" and shape == "reference":
            # 3.3 M RDM entries: each resample re-ranks them all (O(resamples x entries)),
            # so 1,000 resamples take minutes; time 100 and say so (resamples in the JSON).
            metric.resamples = RDM_REFERENCE_RESAMPLES
        result.update(timed(metric, model, data))
    elif name == "internal_consistency":
        if shape == "2000x128":
            _, data = neural_assemblies_for_ceiling(200, 128, 10)
        else:
            n, _, q = SHAPES[shape]
            _, data = neural_assemblies_for_ceiling(n, q, 10)
        result.update(timed(load_metric(name), data))
    elif name == "rdm_subject_ceiling":
        result.update(timed(load_metric(name), rdm_assembly(n_stimuli=92, n_subjects=16)))
    elif name in ("accuracy", "i2n", "error_consistency", "error_consistency_ceiling"):
        model, data = behavioral_assemblies(n_stimuli=160, n_subjects=10, n_labels=16)
        arguments = (data,) if name.endswith("ceiling") else (model, data)
        result.update(timed(load_metric(name), *arguments))
    elif name == "interval_cost":
        result.update(interval_cost(shape))
    elif name == "sklearn_pls":
        result.update(sklearn_pls(shape))
    else:
        raise SystemExit(f"unknown measurement {name}")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def timed(metric, *arguments) -> dict:
    """The fastest of up to ``REPEATS`` calls (all of them, in seconds) and the score.

    A metric with a bootstrap interval is timed with it (the default resamples) and
    without (``resamples = 0``), the calls interleaved so load on the machine hits both
    alike; ``interval_overhead_percent`` compares the fastest of each.
    """
    default = getattr(metric, "resamples", None)
    settings = [default, 0] if default else [default]
    seconds: dict = {setting: [] for setting in settings}
    while len(seconds[default]) < REPEATS and (
        not seconds[default] or sum(map(sum, seconds.values())) < REPEAT_BUDGET_S * 2
    ):
        for setting in settings:
            if setting is not None:
                metric.resamples = setting
            start = time.perf_counter()
            score = metric(*arguments)
            seconds[setting].append(time.perf_counter() - start)
            if setting == default:
                value = float(score)
    result = {"seconds": min(seconds[default]), "all_seconds": seconds[default], "score": value}
    if default:
        metric.resamples = default
        result["seconds_without_interval"] = min(seconds[0])
        result["interval_overhead_percent"] = 100 * (
            min(seconds[default]) / min(seconds[0]) - 1)
        result["resamples"] = default
    return result


def interval_cost(shape: str, pairs: int = 3) -> dict:
    """pls with and without its interval, ``pairs`` interleaved calls of each, fastest of
    each: the goal's measurement (under 20 % at the reference shape), steadier than the
    single calls ``timed`` affords a slow metric on a shared machine."""
    from brainmark import load_metric
    from brainmark.testing._metrics import _arguments

    model, data = neural_data(shape)
    metric = load_metric("pls")
    metric(*_arguments("neural"))  # warm-up, as measure() does for the other metrics
    default = metric.resamples
    seconds: dict = {default: [], 0: []}
    for _ in range(pairs):
        for setting in (default, 0):
            metric.resamples = setting
            start = time.perf_counter()
            metric(model, data)
            seconds[setting].append(time.perf_counter() - start)
    return {"metric": "pls", "resamples": default, "seconds_with": min(seconds[default]),
            "seconds_without": min(seconds[0]), "all_seconds_with": seconds[default],
            "all_seconds_without": seconds[0],
            "overhead_percent": 100 * (min(seconds[default]) / min(seconds[0]) - 1)}


def neural_assemblies_for_ceiling(n_stimuli: int, n_neuroids: int, repetitions: int):
    from brainmark.testing._metrics import neural_assemblies

    return neural_assemblies(n_stimuli, 20, n_neuroids, n_repetitions=repetitions, noise=1.0)


def sklearn_pls(shape: str) -> dict:
    """scikit-learn PLSRegression (default settings) per split, timed on some splits, and
    the relative prediction difference of brainmark's PLS to it and to converged NIPALS."""
    from sklearn.cross_decomposition import PLSRegression

    from brainmark.data import coords_frame
    from brainmark.metrics import stratified_splits
    from brainmark.metrics._solvers import CrossProducts, pls_predictions

    model, data = neural_data(shape)
    frame = coords_frame(data, "presentation")
    splits = stratified_splits(frame["stimulus_id"].to_numpy(), stratify=frame["object_name"])
    x, y = np.asarray(model.values), np.asarray(data.values)
    timed = splits[:SKLEARN_SPLITS_TIMED]
    ours, _ = pls_predictions(CrossProducts(x, y), timed, 25)
    seconds = 0.0
    default_difference = 0.0
    for (train, test), prediction in zip(timed, ours, strict=True):
        start = time.perf_counter()
        reference = PLSRegression(n_components=25, scale=False).fit(x[train], y[train])
        expected = reference.predict(x[test])
        seconds += time.perf_counter() - start
        default_difference = max(default_difference, relative_difference(prediction, expected))
    result = {
        "seconds_timed_splits": seconds,
        "splits_timed": len(timed),
        "seconds_10_splits_extrapolated": seconds * len(splits) / len(timed),
        "max_relative_prediction_difference_vs_default_nipals": default_difference,
    }
    if shape == "small":
        converged_difference = 0.0
        for (train, test), prediction in zip(timed, ours, strict=True):
            reference = PLSRegression(n_components=25, scale=False, tol=1e-14,
                                      max_iter=CONVERGED_MAX_ITER)
            expected = reference.fit(x[train], y[train]).predict(x[test])
            converged_difference = max(converged_difference,
                                       relative_difference(prediction, expected))
        result["max_relative_prediction_difference_vs_converged_nipals"] = converged_difference
    return result


def relative_difference(actual: np.ndarray, desired: np.ndarray) -> float:
    """max |actual - desired| / max |desired| over all held-out predictions."""
    return float(np.abs(actual - desired).max() / np.abs(desired).max())


def internal_consistency_halves(seeds: int = 3) -> dict:
    """Both internal-consistency halves against the known reliability, complete and padded.

    Synthetic data: 200 stimuli x 128 neuroids, each neuroid's signal a random linear map
    of 20 features, plus noise of unit variance per trial. The target is the population
    reliability of the repetition averages the regression metrics score against: per
    neuroid ``var(signal) / (var(signal) + mean over stimuli of 1 / trials)``, median over
    neuroids. Values are means over ``seeds`` data sets; ``error`` the mean split SE.
    """
    from brainmark import load_metric

    halves = {name: load_metric("internal_consistency", halves=name)
              for name in ("per_stimulus", "by_repetition")}
    rows: dict[str, list[dict]] = {}
    for seed in range(seeds):
        for case, data, signal_variance, trials in reliability_cases(seed):
            row = {"target": float(np.median(
                signal_variance / (signal_variance + np.mean(1 / trials))))}
            for name, ceiling in halves.items():
                score = ceiling(data)
                row[name] = float(score)
                row[f"{name}_error"] = score.attrs["error"]
            rows.setdefault(case, []).append(row)
    return {case: {key: round(float(np.mean([row[key] for row in case_rows])), 4)
                   for key in case_rows[0]}
            for case, case_rows in rows.items()}


def reliability_cases(seed: int):
    """(case, data, per-neuroid signal variance, valid trials per stimulus) per padding."""
    n_stimuli = 200
    rng = np.random.default_rng(100 + seed)
    complete, signal_variance = synthetic_trials(seed, 10)
    yield "complete, 10 repetitions", complete, signal_variance, np.full(n_stimuli, 10)
    five, five_variance = synthetic_trials(seed, 5)
    yield "complete, 5 repetitions", five, five_variance, np.full(n_stimuli, 5)
    stimulus = np.tile(np.arange(n_stimuli), 10)
    repetition = np.repeat(np.arange(10), n_stimuli)
    kept = rng.integers(2, 11, size=n_stimuli)
    trailing = repetition >= kept[stimulus]
    yield ("trailing repetitions NaN-padded (first 2-10 kept)", nan_padded(complete, trailing),
           signal_variance, kept)
    at_random = rng.random(len(stimulus)) < 0.3
    too_few = np.flatnonzero(np.bincount(stimulus[~at_random], minlength=n_stimuli) < 2)
    at_random[np.concatenate([too_few, n_stimuli + too_few])] = False  # keep 2 trials each
    yield ("30% of trials NaN at random", nan_padded(complete, at_random), signal_variance,
           np.bincount(stimulus[~at_random], minlength=n_stimuli))


def synthetic_trials(seed: int, repetitions: int):
    """(trials assembly, per-neuroid signal variance) of 200 stimuli x 128 neuroids."""
    from brainmark.data import NeuroidAssembly

    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((200, 20)) @ rng.standard_normal((20, 128)) / np.sqrt(20)
    trials = np.concatenate([signal + rng.standard_normal(signal.shape)
                             for _ in range(repetitions)])
    data = NeuroidAssembly(
        trials, dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", np.tile([f"s{k}" for k in range(200)],
                                                        repetitions)),
                "repetition": ("presentation", np.repeat(np.arange(repetitions), 200)),
                "neuroid_id": ("neuroid", [f"n{k}" for k in range(128)])},
    )
    return data, signal.var(axis=0, ddof=1)


def nan_padded(data, missing: np.ndarray):
    """The data with the trials marked ``missing`` set to NaN."""
    values = data.values.copy()
    values[missing] = np.nan
    return data.copy(data=values)


def run_one(name: str, shape: str) -> dict:
    output = subprocess.run(
        # -P: perf/ off the path, so perf/platform.py does not hide the standard library's
        [sys.executable, "-P", __file__, "--one", name, shape],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    from tqdm import tqdm

    plan = [(name, shape) for shape in ("small", "reference") for name in NEURAL_METRICS]
    plan += [("internal_consistency", "2000x128"), ("internal_consistency", "reference"),
             ("rdm_subject_ceiling", "16x92"), ("accuracy", "geirhos"), ("i2n", "geirhos"),
             ("error_consistency", "geirhos"), ("error_consistency_ceiling", "geirhos"),
             ("sklearn_pls", "small"), ("sklearn_pls", "reference"),
             ("interval_cost", "reference")]
    measured = {}
    for name, shape in tqdm(plan, desc="metrics benchmark", file=sys.stderr):
        measured[f"{name}@{shape}"] = run_one(name, shape)
    ratios = {
        shape: measured[f"sklearn_pls@{shape}"]["seconds_10_splits_extrapolated"]
        / measured[f"pls@{shape}"]["seconds"]
        for shape in SHAPES
    }
    report = {
        "description": __doc__.split("\n\n")[0],
        "shapes": {name: dict(zip(("stimuli", "features", "neuroids"), shape, strict=True))
                   for name, shape in SHAPES.items()},
        "seconds": {key: round(value["seconds"], 4) for key, value in measured.items()
                    if "seconds" in value},
        "seconds_without_interval": {
            key: round(value["seconds_without_interval"], 4) for key, value in measured.items()
            if "seconds_without_interval" in value},
        "interval_overhead_percent": {
            key: round(value["interval_overhead_percent"], 1) for key, value in measured.items()
            if "interval_overhead_percent" in value},
        "interval_resamples": {key: value["resamples"] for key, value in measured.items()
                               if "resamples" in value},
        "peak_rss_mb": {key: round(value["peak_rss_mb"], 1) for key, value in measured.items()},
        "pls_speedup_vs_sklearn_default": {shape: round(r, 1) for shape, r in ratios.items()},
        "sklearn_pls": {key.split("@")[1]: value for key, value in measured.items()
                        if key.startswith("sklearn_pls")},
        "scores": {key: value["score"] for key, value in measured.items() if "score" in value},
        "interval_cost_reference": measured["interval_cost@reference"],
        "internal_consistency_halves": internal_consistency_halves(),
        "notes": [
            f"scikit-learn PLSRegression(n_components=25, scale=False) with default tol and "
            f"max_iter was timed on {SKLEARN_SPLITS_TIMED} of the 10 splits and extrapolated "
            f"linearly to 10; brainmark's pls time is the whole metric call (10 splits, "
            f"alignment and correlations included).",
            f"Converged NIPALS (tol=1e-14, max_iter={CONVERGED_MAX_ITER}) is compared on the "
            "small shape only (at the reference shape it takes hours); relative difference = "
            "max |ours - theirs| / max |theirs| over held-out predictions.",
            f"seconds: the fastest of up to {REPEATS} calls of a metric, fewer once the calls "
            f"took {REPEAT_BUDGET_S} s (all_seconds in a --one run lists them).",
            "Peak memory: ru_maxrss of a fresh subprocess per measurement (interpreter, data "
            "generation and the metric together).",
            "BLAS limited to 1 thread for every measurement; the machine (2 cores) may run "
            "other jobs at the same time, so timings carry some noise.",
            "Intervals: seconds is a metric call with its bootstrap interval (1,000 "
            "resamples, the default), seconds_without_interval the same call with "
            "resamples = 0; interval_overhead_percent compares the two (the goal: under 20 % "
            "at the reference shape). cka has no interval. rdm@reference is timed with "
            f"{RDM_REFERENCE_RESAMPLES} resamples (interval_resamples): its bootstrap costs "
            "O(resamples x RDM entries), 3.3 M entries at 2,560 stimuli, so its overhead "
            "at 1,000 resamples is about ten times the one shown.",
        ],
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine()},
    }
    text = json.dumps(report, indent=2)
    print(text)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "metrics.json").write_text(text + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        # Load every BLAS/LAPACK first (scipy ships its own): threadpoolctl limits only the
        # libraries already loaded when it is entered.
        import scipy.linalg  # noqa: F401
        import sklearn.cross_decomposition  # noqa: F401

        import brainmark.metrics  # noqa: F401

        with threadpool_limits(1):
            print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    elif sys.argv[1:] == ["--interval-cost"]:
        # Only the interval-cost measurement, written into the existing results.
        results = Path(__file__).parent / "results" / "metrics.json"
        report = json.loads(results.read_text())
        report["interval_cost_reference"] = run_one("interval_cost", "reference")
        results.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["interval_cost_reference"], indent=2))
    else:
        main()
