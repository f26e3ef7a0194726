"""The leaderboard's rows: models and versions, the benchmark tree and versions, scores.

A resubmitted model is a new :class:`ModelVersion`; a benchmark whose data, metric or
ceiling changed is a new :class:`BenchmarkVersion`. A :class:`Score` belongs to one model
version and one benchmark version, so older versions' scores stay in the history.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Model(models.Model):
    """A model on the leaderboard, as registered by its plugin (e.g. ``alexnet``)."""

    identifier = models.CharField(max_length=200, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="models",
        help_text="Who submitted it; empty for the built-in models.",
    )
    public = models.BooleanField(
        default=False,
        help_text="Public models enter ranks, aggregates, downloads and the API.",
    )
    metadata = models.JSONField(default=dict, blank=True)
    license = models.CharField(max_length=100, blank=True)
    withdrawn = models.BooleanField(
        default=False,
        help_text="Withdrawn by its owner: off the leaderboard, its scores kept.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return self.identifier


class ModelVersion(models.Model):
    """One submitted version of a model: the plugin's content and how it sees stimuli."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    plugin_sha1 = models.CharField(
        max_length=64, help_text="Content hash of the model's plugin folder."
    )
    visual_degrees = models.FloatField()
    submission = models.ForeignKey(
        "submissions.Submission",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="model_versions",
        help_text="The submission that brought this version; empty for built-in models.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "version"], name="leaderboard_model_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="leaderboard_model_version_positive"
            ),
            models.CheckConstraint(
                condition=Q(visual_degrees__gt=0),
                name="leaderboard_model_visual_degrees_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} v{self.version}"


class BenchmarkType(models.Model):
    """A node of the benchmark tree (``brainmark.benchmarks.tree``): a benchmark or a group.

    Leaves are benchmarks (with versions); inner nodes (``V1``, ``neural_vision``,
    ``average_vision``, ...) aggregate their children.
    """

    identifier = models.CharField(max_length=200, unique=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    order = models.IntegerField(default=0, help_text="Position among its siblings.")
    visible = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="benchmarks",
        help_text="Who submitted it; empty for built-in benchmarks and tree nodes.",
    )

    class Meta:
        ordering = ["order", "identifier"]

    def __str__(self) -> str:
        return self.identifier

    def clean(self) -> None:
        """Refuse a parent that would make the tree a cycle (itself or a descendant)."""
        ancestor, seen = self.parent, set()
        while ancestor is not None and ancestor.pk not in seen:
            if ancestor is self or (self.pk is not None and ancestor.pk == self.pk):
                raise ValidationError(
                    {"parent": f"{self.parent} is {self} or lies below it; the benchmarks "
                               f"must form a tree."}
                )
            seen.add(ancestor.pk)
            ancestor = ancestor.parent


class BenchmarkVersion(models.Model):
    """One version of a benchmark: its ceiling, reference and whether it is published."""

    benchmark_type = models.ForeignKey(
        BenchmarkType, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    ceiling = models.FloatField(null=True, blank=True)
    ceiling_error = models.FloatField(null=True, blank=True)
    bibtex = models.TextField(blank=True)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Data and metric description."
    )
    license = models.CharField(max_length=100, blank=True, help_text="The data's license.")
    public = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark_type", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark_type", "version"], name="leaderboard_benchmark_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(ceiling__isnull=True) | Q(ceiling__gt=0),
                name="leaderboard_benchmark_ceiling_positive",
            ),
            models.CheckConstraint(
                condition=Q(ceiling_error__isnull=True) | Q(ceiling_error__gte=0),
                name="leaderboard_benchmark_ceiling_error_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark_type} v{self.version}"


class Score(models.Model):
    """The score of one model version on one benchmark version, or why there is none.

    ``record`` holds the library's full ``ScoreRecord`` (versions, plugin hashes, data
    SHA1s, seeds); the columns repeat what pages sort and aggregate by. ``ceiled`` keeps
    the unclamped value, so a bad ceiling stays visible.
    """

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="scores"
    )
    benchmark_version = models.ForeignKey(
        BenchmarkVersion, on_delete=models.CASCADE, related_name="scores"
    )
    raw = models.FloatField(null=True, blank=True)
    ceiled = models.FloatField(null=True, blank=True)
    error = models.FloatField(null=True, blank=True)
    ceiling = models.FloatField(null=True, blank=True, help_text="The ceiling used.")
    layer_commitment = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True, help_text="Why there is no score, when it failed.")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    record = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["end"], name="leaderboard_score_end")]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "benchmark_version"],
                name="leaderboard_score_unique_per_model_and_benchmark_version",
            ),
            models.CheckConstraint(
                condition=Q(error__isnull=True) | Q(error__gte=0),
                name="leaderboard_score_error_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__isnull=True) | Q(end__gte=F("start")),
                name="leaderboard_score_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} on {self.benchmark_version}"


class BoardKey(models.Model):
    """One row whose ``key`` changes with every write to the leaderboard's tables.

    Database triggers (migration 0003) set a new random key in the same statement's
    transaction whenever a model, model version, benchmark type, benchmark version or score
    is inserted, updated or deleted, whatever wrote it (services, the admin, bulk writes,
    raw SQL). A stored board (:class:`BoardSnapshot`) is only used while the key it was
    computed under is still the current one, so it is never stale past a write. A random key
    (not a counter) never repeats after a rolled-back write.
    """

    key = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.key


class BoardSnapshot(models.Model):
    """A serialized public board, computed once per :class:`BoardKey` key and shared by
    every web process (see ``leaderboard/snapshots.py``)."""

    name = models.CharField(max_length=200, unique=True)
    key = models.CharField(max_length=64, help_text="The BoardKey it was computed under.")
    payload = models.TextField()
    written = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.key}"
