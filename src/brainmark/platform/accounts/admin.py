from django.contrib import admin

from brainmark.platform.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; they are created by their users (clear once)."""

    list_display = ("name", "user", "created", "last_used", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username", "user__email")
    readonly_fields = ("user", "name", "token_hash", "created", "last_used")

    def has_add_permission(self, request) -> bool:
        return False
