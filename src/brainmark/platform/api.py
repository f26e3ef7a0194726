"""The JSON API under ``/api/`` (django-ninja), with its OpenAPI description.

Each app owns a router in its ``api.py``; this module mounts them. The OpenAPI description
is served at ``/api/openapi.json`` and browsable at ``/api/docs``. Write endpoints take an
API token (``Authorization: Bearer bm_...``, created on the profile page or with
``brainmark token create``); read endpoints are public but never show a private model to
anyone but its owner and staff.
"""

from __future__ import annotations

from ninja import NinjaAPI

from brainmark._version import __version__

api = NinjaAPI(
    title="brainmark",
    version=__version__,
    description="Scores of models on brain benchmarks, the benchmark tree, and data uploads.",
    urls_namespace="api",
)


def _mount_routers() -> None:
    from brainmark.platform.accounts.api import router as accounts_router
    from brainmark.platform.leaderboard.api import router as leaderboard_router
    from brainmark.platform.submissions.api import router as submissions_router
    from brainmark.platform.submissions.git_api import router as git_router
    from brainmark.platform.uploads.api import router as uploads_router

    api.add_router("/", leaderboard_router)
    # Before the submissions router, whose /submissions/{id} would take "git" as an id.
    api.add_router("/", git_router)
    api.add_router("/submissions/", submissions_router)
    api.add_router("/uploads/", uploads_router)
    api.add_router("/accounts/", accounts_router)


_mount_routers()
