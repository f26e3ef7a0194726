from django.contrib import admin

from brainmark.platform.submissions.models import Job, Submission


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = ("model_version", "benchmark_version", "status", "attempts", "heartbeat")
    readonly_fields = fields
    can_delete = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "status", "created", "updated")
    list_filter = ("status", "kind")
    search_fields = ("user__username", "user__email", "log")
    readonly_fields = ("created", "updated")
    inlines = [JobInline]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "model_version", "benchmark_version", "status", "attempts", "heartbeat",
        "lease_expires",
    )
    list_filter = ("status",)
    list_select_related = ("model_version__model", "benchmark_version__benchmark_type")
    raw_id_fields = ("submission", "model_version", "benchmark_version")
    readonly_fields = ("created", "updated")
