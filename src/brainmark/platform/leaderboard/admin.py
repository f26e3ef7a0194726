from django.contrib import admin

from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    ModelVersion,
    Score,
)


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    readonly_fields = ("created",)


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("identifier", "owner", "public", "license", "created")
    list_filter = ("public",)
    search_fields = ("identifier", "owner__username", "owner__email")
    inlines = [ModelVersionInline]


class BenchmarkVersionInline(admin.TabularInline):
    model = BenchmarkVersion
    extra = 0
    readonly_fields = ("created",)


@admin.register(BenchmarkType)
class BenchmarkTypeAdmin(admin.ModelAdmin):
    list_display = ("identifier", "parent", "order", "visible")
    list_filter = ("visible", "parent")
    search_fields = ("identifier",)
    inlines = [BenchmarkVersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("model", "version", "plugin_sha1", "visual_degrees", "created")
    search_fields = ("model__identifier", "plugin_sha1")


@admin.register(BenchmarkVersion)
class BenchmarkVersionAdmin(admin.ModelAdmin):
    list_display = ("benchmark_type", "version", "ceiling", "ceiling_error", "public")
    list_filter = ("public",)
    search_fields = ("benchmark_type__identifier",)


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ("model_version", "benchmark_version", "ceiled", "raw", "error", "end")
    list_select_related = ("model_version__model", "benchmark_version__benchmark_type")
    search_fields = (
        "model_version__model__identifier",
        "benchmark_version__benchmark_type__identifier",
        "comment",
    )
    raw_id_fields = ("model_version", "benchmark_version")
