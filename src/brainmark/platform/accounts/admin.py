from django.contrib import admin

from brainmark.platform.accounts.models import ApiToken, PendingActivation, RateLimitAttempt


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; they are created by their users (clear once)."""

    list_display = ("name", "user", "created", "last_used", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username", "user__email")
    readonly_fields = ("user", "name", "token_hash", "created", "last_used")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(PendingActivation)
class PendingActivationAdmin(admin.ModelAdmin):
    """Sign-ups awaiting their activation link; deleting a row stops self-activation."""

    list_display = ("user", "created")
    search_fields = ("user__username", "user__email")
    readonly_fields = ("user", "created")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RateLimitAttempt)
class RateLimitAttemptAdmin(admin.ModelAdmin):
    """Counted attempts (mails asked for, failed log-ins); deleting rows lifts a limit early."""

    list_display = ("kind", "key", "at")
    list_filter = ("kind",)
    search_fields = ("key",)
    readonly_fields = ("kind", "key", "at")

    def has_add_permission(self, request) -> bool:
        return False
