from django.apps import AppConfig


class SiteConfig(AppConfig):
    """What every page shares: the base template, the style sheet, the guides from docs/."""

    name = "brainmark.platform.site"
    label = "site"
    verbose_name = "Site"
