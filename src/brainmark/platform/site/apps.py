from pathlib import Path

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """What every page shares: the base template, the style sheet, the guides from docs/."""

    name = "brainmark.platform.site"
    label = "site"
    verbose_name = "Site"

    def ready(self) -> None:
        """Create STATIC_ROOT (under home) if missing.

        WhiteNoise serves it beside the apps' own static folders and warns at every start
        when it does not exist, which it does not until a first ``collectstatic``.
        """
        from django.conf import settings

        if settings.STATIC_ROOT:
            Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
