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

from brainmark.execution import states
from brainmark.platform.leaderboard.models import BenchmarkVersion, ModelVersion
from brainmark.platform.uploads.models import sha1_validator


class SubmissionSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded zip"
    GIT = "git", "Git repository"


class SubmissionKind(models.TextChoices):
    MODEL = "model", "Model"
    BENCHMARK = "benchmark", "Benchmark"
    PLUGINS = "plugins", "Several plugin types"


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    VALIDATING = "validating", "Validating the archive"
    VALIDATED = "validated", "Archive validated"
    TESTING = "testing", "Running the plugin tests"
    TESTED = "tested", "Plugin tests passed"
    MERGED = "merged", "Plugins merged"
    SCORING = "scoring", "Scoring"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class JobStatus(models.TextChoices):
    """The job states; the values are those of :class:`brainmark.execution.states.JobStatus`.

    Defined from the state machine's enum so the rows and the transitions share one list.
    """

    QUEUED = states.JobStatus.QUEUED.value, "Queued"
    RUNNING = states.JobStatus.RUNNING.value, "Running"
    SUCCEEDED = states.JobStatus.SUCCEEDED.value, "Succeeded"
    FAILED = states.JobStatus.FAILED.value, "Failed"
    CANCELLED = states.JobStatus.CANCELLED.value, "Cancelled"


class FailureKind(models.TextChoices):
    """Why a job's last attempt failed (the state machine's :class:`FailureKind`)."""

    OUT_OF_MEMORY = states.FailureKind.OUT_OF_MEMORY.value, "Out of memory"
    DETERMINISTIC = states.FailureKind.DETERMINISTIC.value, "The plugin's own error"
    TRANSIENT = states.FailureKind.TRANSIENT.value, "Transient (worker lost)"


LIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Submission(models.Model):
    """An archive of plugins a user submitted, and how far it got."""

    Kind = SubmissionKind
    Status = SubmissionStatus
    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.REJECTED, Status.CANCELLED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    log = models.TextField(blank=True)
    private = models.BooleanField(
        default=False, help_text="Scores are shown only to the submitter and staff."
    )
    archive_key = models.CharField(
        max_length=500, blank=True, help_text="Where the archive is stored (object key)."
    )
    archive_sha1 = models.CharField(max_length=40, blank=True, validators=[sha1_validator])
    archive_version_id = models.CharField(
        max_length=200, blank=True, help_text="The object store's version of the archive."
    )
    archive_size = models.BigIntegerField(null=True, blank=True, help_text="In bytes.")
    problems = models.JSONField(
        default=list,
        blank=True,
        help_text="Validation problems, each {file, rule, message}.",
    )
    isolation = models.CharField(
        max_length=50, blank=True, help_text="Which sandbox isolation the plugin tests ran in."
    )
    identifiers = models.JSONField(
        default=list, blank=True,
        help_text="What the archive registers, each [registry, identifier] (once validated).",
    )
    stages = models.JSONField(
        default=dict, blank=True, help_text="When each status was reached: {status: ISO time}."
    )
    plugin_commit = models.CharField(
        max_length=40, blank=True, help_text="The plugin store's commit that merged it."
    )
    source = models.CharField(
        max_length=10, choices=SubmissionSource.choices, default=SubmissionSource.UPLOAD
    )
    source_url = models.CharField(
        max_length=500, blank=True, help_text="The git repository it came from."
    )
    source_ref = models.CharField(max_length=250, blank=True, help_text="The branch or ref.")
    source_commit = models.CharField(
        max_length=40, blank=True, help_text="The git commit that was submitted."
    )
    commit_status_url = models.CharField(
        max_length=500, blank=True, help_text="Where the result is reported back (git only)."
    )

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
    worker = models.CharField(max_length=200, blank=True, help_text="Who holds the job.")
    memory_tier = models.CharField(
        max_length=50,
        default=states.DEFAULT_POLICY.memory_tiers[0],
        help_text="The memory request, one of the retry policy's tiers.",
    )
    failure_kind = models.CharField(
        max_length=20, blank=True, choices=FailureKind.choices, help_text="Of the last failure."
    )
    failure_reason = models.TextField(blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    isolation = models.CharField(
        max_length=50, blank=True, help_text="Which sandbox isolation the attempt ran in."
    )
    plugin_commit = models.CharField(
        max_length=40, blank=True,
        help_text="The plugin store's commit the job scores at (empty: built-in plugins only).",
    )
    needs_gpu = models.BooleanField(default=False)
    output = models.TextField(
        blank=True, help_text="The end of the latest attempt's log (live while it runs)."
    )
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
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
            models.CheckConstraint(
                condition=Q(failure_kind="") | Q(failure_kind__in=FailureKind.values),
                name="submissions_job_failure_kind_valid",
            ),
            models.UniqueConstraint(
                fields=["model_version", "benchmark_version"],
                condition=Q(status__in=list(LIVE_JOB_STATUSES)),
                name="submissions_one_live_job_per_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} ({self.status})"


class WebhookDelivery(models.Model):
    """A code host's webhook delivery, recorded once: a delivery id seen before is a replay.

    The row is written after the signature checked out and before anything is started, so a
    replayed delivery (same id, or same signed body) is refused by the unique constraints
    and starts nothing.
    """

    delivery_id = models.CharField(
        max_length=100, unique=True, help_text="The code host's id of the delivery."
    )
    payload_sha256 = models.CharField(
        max_length=64, unique=True,
        help_text="Of the signed body: the delivery id is not signed, so a captured body "
        "sent again under a new id is a replay too.",
    )
    event = models.CharField(max_length=50, help_text="push, pull_request, ping, ...")
    received = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(
        max_length=300, blank=True, help_text="What was done: the submission, or why nothing."
    )
    submission = models.ForeignKey(
        Submission, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="webhook_deliveries",
    )

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"{self.event} delivery {self.delivery_id}"
