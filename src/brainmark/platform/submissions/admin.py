from django.contrib import admin

from brainmark.platform.submissions.models import Job, Submission, WebhookDelivery


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = (
        "model_version", "benchmark_version", "status", "attempts", "worker", "memory_tier",
        "failure_kind", "heartbeat",
    )
    readonly_fields = fields
    can_delete = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "status", "private", "created", "updated")
    list_filter = ("status", "kind", "private")
    search_fields = ("user__username", "user__email", "log", "archive_sha1")
    readonly_fields = ("created", "updated")
    fieldsets = (
        (None, {"fields": ("user", "kind", "status", "private", "log")}),
        (
            "Archive",
            {
                "fields": (
                    "archive_key", "archive_sha1", "archive_version_id", "archive_size",
                    "problems", "isolation",
                )
            },
        ),
        ("Times", {"fields": ("created", "updated")}),
    )
    inlines = [JobInline]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "model_version", "benchmark_version", "status", "attempts", "worker",
        "memory_tier", "failure_kind", "heartbeat", "lease_expires",
    )
    list_filter = ("status", "failure_kind", "memory_tier")
    search_fields = ("worker", "failure_reason")
    list_select_related = ("model_version__model", "benchmark_version__benchmark_type")
    raw_id_fields = ("submission", "model_version", "benchmark_version")
    readonly_fields = ("created", "updated")
    fieldsets = (
        (None, {"fields": ("submission", "model_version", "benchmark_version", "log")}),
        (
            "State",
            {
                "fields": (
                    "status", "attempts", "worker", "heartbeat", "lease_expires",
                    "memory_tier", "failure_kind", "failure_reason",
                )
            },
        ),
        (
            "Last attempt",
            {
                "fields": (
                    "started", "finished", "wall_seconds", "cpu_seconds", "peak_memory_bytes",
                    "exit_code", "isolation",
                )
            },
        ),
        ("Times", {"fields": ("created", "updated")}),
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event", "received", "submission", "outcome")
    list_filter = ("event",)
    search_fields = ("delivery_id", "outcome")
    raw_id_fields = ("submission",)
    readonly_fields = ("received",)
