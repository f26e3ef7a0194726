"""The brainmark platform: a Django project inside the package.

``settings`` (derived from :func:`brainmark.settings.get_settings`), ``settings_production``
(the same plus HTTPS-only cookies, HSTS and redirects), ``urls`` (the admin) and one app per
job: ``accounts`` (API tokens), ``leaderboard`` (models, benchmarks, scores),
``submissions`` (submissions and their jobs), ``uploads`` (data packages). Nothing in the
library imports this package; ``brainmark migrate`` and ``brainmark manage`` load Django.
"""
