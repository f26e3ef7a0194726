"""Submissions and their scoring jobs: rows are the source of truth of the pipeline.

Every submission ends in a definite state (succeeded, failed or rejected, with the reason in
its log). A job holds a lease while it runs and refreshes its heartbeat; a job whose lease
expired lost its worker and is retried or failed. At most one job per (model version,
benchmark version) is queued or running at a time, so a score is never computed twice at
once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from brainmark.platform.leaderboard.models import BenchmarkVersion, ModelVersion


class SubmissionKind(models.TextChoices):
    MODEL = "model", "Model"
    BENCHMARK = "benchmark", "Benchmark"
    PLUGINS = "plugins", "Several plugin types"


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    VALIDATING = "validating", "Validating the archive"
    TESTING = "testing", "Running the plugin tests"
    SCORING = "scoring", "Scoring"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Submission(models.Model):
    """An archive of plugins a user submitted, and how far it got."""

    Kind = SubmissionKind
    Status = SubmissionStatus
    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.REJECTED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    log = models.TextField(blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SubmissionKind.values),
                name="submissions_submission_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SubmissionStatus.values),
                name="submissions_submission_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} by {self.user} ({self.status})"


class Job(models.Model):
    """Scoring one model version on one benchmark version."""

    Status = JobStatus

    submission = models.ForeignKey(
        Submission,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="jobs",
        help_text="Empty for jobs planned without a submission (e.g. a rescore).",
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="jobs")
    benchmark_version = models.ForeignKey(
        BenchmarkVersion, on_delete=models.CASCADE, related_name="jobs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.IntegerField(default=0)
    heartbeat = models.DateTimeField(null=True, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["status", "lease_expires"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="submissions_job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0), name="submissions_job_attempts_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.RUNNING) | Q(lease_expires__isnull=False),
                name="submissions_running_job_has_lease",
            ),
            models.UniqueConstraint(
                fields=["model_version", "benchmark_version"],
                condition=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
                name="submissions_one_live_job_per_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} ({self.status})"
