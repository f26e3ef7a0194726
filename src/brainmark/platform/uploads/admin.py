from django.contrib import admin

from brainmark.platform.uploads.models import DataPackage


@admin.register(DataPackage)
class DataPackageAdmin(admin.ModelAdmin):
    list_display = (
        "identifier", "kind", "owner", "key", "sha1", "version_id", "size", "created"
    )
    list_filter = ("kind",)
    search_fields = ("identifier", "key", "sha1", "owner__username", "owner__email")
    readonly_fields = ("created",)
