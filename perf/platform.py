"""Server time of the leaderboard's pages; prints JSON and writes results/platform.json.

For each database (SQLite always; PostgreSQL too when ``DATABASE_URL`` is set, in a
database of its own created and dropped on that server) and each board size (100 models x
30 benchmarks and 1,000 x 300, written by ``leaderboard.synthetic.populate``), in a fresh
process and home:

- ``warm``: repeated requests through Django's test Client (the whole middleware stack, no
  network): p50 and p95 in ms, bytes sent, and the number of SQL queries per request;
- ``stored``: the same with the process's memo emptied before each request, as a new web
  process that finds the board stored by another one (one query more, and decoding it);
- ``after_write``: the first request after a score is written by a bulk update (no signal:
  the reader finds the key changed and recomputes the board);
- ``save_and_refresh_ms``: a score saved through the ORM, with the stored board refreshed
  by the writer after the commit; ``page_after_refresh_ms`` the page right after.

URLs: the page ``/``; its grid's first load ``/api/leaderboard?expanded=`` (nodes only) and
a region's benchmarks ``?expanded=V1``; the full download ``/leaderboard.json``; a model page
``/models/<id>/``. The queries must not grow with the board's size: compare the two sizes.

Usage: python perf/platform.py [--repeats N] [--sizes 100x30,1000x300]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    # This file is perf/platform.py: keep the standard library's platform module visible.
    del sys.path[0]

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "platform.json"
SIZES = ((100, 30), (1000, 300))


def _measure(client, url: str, repeats: int, before=None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, size = [], [], 0
    for _ in range(repeats):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            content = response.content
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code, content[:300])
        queries.append(len(captured))
        size = len(content)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] * 1000, 2),
        "bytes": size,
        "queries": max(queries),
    }


def run_size(n_models: int, n_benchmarks: int, repeats: int) -> dict:
    """In this process (Django set up from the environment): populate, then measure."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.models import Model, Score
    from brainmark.platform.leaderboard.synthetic import populate

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    populate(n_models, n_benchmarks, seed=1)
    populate_s = time.perf_counter() - start
    model = Model.objects.filter(public=True).order_by("identifier").first().identifier
    client = Client(HTTP_HOST="localhost")
    urls = {
        "page": "/",
        "grid_nodes": "/api/leaderboard?expanded=",
        "grid_region_V1": "/api/leaderboard?expanded=V1",
        "download_json": "/leaderboard.json",
        "model_page": f"/models/{model}/",
    }
    result: dict = {"models": n_models, "benchmarks": n_benchmarks,
                    "populate_s": round(populate_s, 1), "vendor": connection.vendor}
    score = Score.objects.filter(ceiled__isnull=False).first()
    # A score saved through the ORM: the writer refreshes the stored board once committed
    # (signals + on_commit), so the next reader finds it ready.
    client.get("/")  # the process's first request (imports, templates) is not measured
    start = time.perf_counter()
    score.save()
    result["save_and_refresh_ms"] = round((time.perf_counter() - start) * 1000, 1)
    result["page_after_refresh_ms"] = _measure(client, "/", 1)["p50_ms"]
    for name, url in urls.items():
        if name == "model_page" and client.get(url).status_code == 404:
            result[name] = "no model page yet"
            continue
        # The first request after a write recomputes the board (and stores it).
        Score.objects.filter(pk=score.pk).update(ceiled=score.ceiled)
        after_write = _measure(client, url, 1)
        warm = _measure(client, url, repeats)
        stored = _measure(client, url, max(3, repeats // 4), before=snapshots.forget)
        result[name] = {"warm": warm, "stored": stored,
                        "after_write_ms": after_write["p50_ms"]}
    return result


def _child(database_url: str | None, size: tuple[int, int], repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {name: value for name, value in os.environ.items()
               if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL")}
        env.update(BRAINMARK_HOME=home, DJANGO_SETTINGS_MODULE="brainmark.platform.settings")
        if database_url:
            env["DATABASE_URL"] = database_url
        output = subprocess.run(
            [sys.executable, __file__, "--child", f"{size[0]}x{size[1]}",
             "--repeats", str(repeats)],
            env=env, capture_output=True, text=True, check=False,
        )
        if output.returncode != 0:
            raise RuntimeError(output.stderr[-3000:])
        return json.loads(output.stdout.strip().splitlines()[-1])


def _postgres_database(server_url: str):
    """A new database on ``server_url``'s server: (its URL, a function dropping it)."""
    import psycopg

    name = f"brainmark_perf_{uuid.uuid4().hex[:8]}"
    base, _, _ = server_url.rpartition("/")
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", default=",".join(f"{m}x{b}" for m, b in SIZES))
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        n_models, n_benchmarks = (int(part) for part in args.child.split("x"))
        print(json.dumps(run_size(n_models, n_benchmarks, args.repeats)))
        return
    sizes = [tuple(int(part) for part in size.split("x")) for size in args.sizes.split(",")]
    results: dict = {"repeats": args.repeats}
    server = os.environ.get("DATABASE_URL") or os.environ.get("BRAINMARK_DATABASE_URL")
    for vendor in ("sqlite", "postgresql") if server else ("sqlite",):
        for size in sizes:
            if vendor == "sqlite":
                results[f"sqlite_{size[0]}x{size[1]}"] = _child(None, size, args.repeats)
                continue
            url, drop = _postgres_database(server)
            try:
                results[f"postgresql_{size[0]}x{size[1]}"] = _child(url, size, args.repeats)
            finally:
                drop()
    text = json.dumps(results, indent=2)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
