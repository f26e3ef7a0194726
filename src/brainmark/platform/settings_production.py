"""The production profile: :mod:`brainmark.platform.settings` behind HTTPS.

Select it with ``DJANGO_SETTINGS_MODULE=brainmark.platform.settings_production``. DEBUG is
off whatever the ``debug`` setting says; cookies travel over HTTPS only; browsers are told
to use HTTPS for a year (HSTS); plain HTTP is redirected. The site is expected behind a
proxy that terminates TLS and sets ``X-Forwarded-Proto``. ``manage.py check --deploy``
passes with no warning (``tests/platform/test_settings.py``).
"""

from __future__ import annotations

from brainmark.platform.settings import *  # noqa: F403

DEBUG = False

SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
