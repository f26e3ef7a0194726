"""The platform as a WSGI application, for gunicorn and any other WSGI server.

``gunicorn brainmark.platform.wsgi:application`` serves the site; the settings module is
``brainmark.platform.settings`` unless ``DJANGO_SETTINGS_MODULE`` names another (in
production, ``brainmark.platform.settings_production``; see docs/deploy.md).
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainmark.platform.settings")

application = get_wsgi_application()
