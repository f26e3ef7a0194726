"""The submissions in the admin; its actions re-run and cancel through :mod:`.staff` (the
state machine's events, never a status set by hand)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from brainmark.platform.submissions import staff
from brainmark.platform.submissions.models import Job, Submission, WebhookDelivery


def _run_each(request: HttpRequest, ids: list[int], act: Callable[[int, str], object],
              done: str, what: str) -> None:
    """``act(id, by)`` for each selected id; one message for those done, one per refusal."""
    by = request.user.get_username()
    changed = []
    for pk in ids:
        try:
            act(pk, by)
        except (staff.UnknownIdError, staff.StaffActionError) as error:
            messages.error(request, str(error))
        else:
            changed.append(f"#{pk}")
    if changed:
        messages.success(request, f"{done} {what} {', '.join(changed)}.")


@admin.action(description="Re-run the selected finished jobs")
def rerun_jobs(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    _run_each(request, list(queryset.values_list("pk", flat=True)), staff.rerun_job,
              "Queued again:", "job(s)")


@admin.action(description="Cancel the selected queued or running jobs")
def cancel_jobs(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    _run_each(request, list(queryset.values_list("pk", flat=True)), staff.cancel_job,
              "Cancelled:", "job(s)")


@admin.action(description="Re-run the failed and cancelled jobs of the selected submissions")
def rerun_submissions(modeladmin: admin.ModelAdmin, request: HttpRequest,
                      queryset: QuerySet) -> None:
    _run_each(request, list(queryset.values_list("pk", flat=True)), staff.rerun_submission,
              "Re-ran the failed jobs of", "submission(s)")


@admin.action(description="Cancel the selected submissions (their queued and running jobs)")
def cancel_submissions(modeladmin: admin.ModelAdmin, request: HttpRequest,
                       queryset: QuerySet) -> None:
    _run_each(request, list(queryset.values_list("pk", flat=True)), staff.cancel_submission,
              "Cancelled", "submission(s)")


@admin.action(description="Revert the selected submissions from the plugin store (a commit; "
                           "their models withdrawn)")
def revert_submissions(modeladmin: admin.ModelAdmin, request: HttpRequest,
                       queryset: QuerySet) -> None:
    _run_each(request, list(queryset.values_list("pk", flat=True)), staff.revert_submission,
              "Reverted", "submission(s)")


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
    actions = [rerun_submissions, cancel_submissions, revert_submissions]


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
    actions = [rerun_jobs, cancel_jobs]
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
