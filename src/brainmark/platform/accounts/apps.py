from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users' API tokens."""

    name = "brainmark.platform.accounts"
    label = "accounts"
    verbose_name = "Accounts"
