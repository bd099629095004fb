from django.contrib import admin

from boards.admin import ViewOnlyAdmin
from forge.models import ForgeDelivery, ForgeSettings


@admin.register(ForgeSettings)
class ForgeSettingsAdmin(ViewOnlyAdmin):
    """View-only, and never the secrets: they are set on the board's Forge page or over
    PUT /api/boards/{id}/forge (forge.services), which audits the change."""

    fields = ["board", "on_pr_opened", "on_pr_merged", "updated_at"]
    list_display = ["board", "github", "gitlab", "gitea", "on_pr_opened", "on_pr_merged"]
    list_select_related = ["board", "on_pr_opened", "on_pr_merged"]

    @admin.display(boolean=True, description="GitHub secret")
    def github(self, settings: ForgeSettings) -> bool:
        return bool(settings.github_secret)

    @admin.display(boolean=True, description="GitLab secret")
    def gitlab(self, settings: ForgeSettings) -> bool:
        return bool(settings.gitlab_secret)

    @admin.display(boolean=True, description="Gitea secret")
    def gitea(self, settings: ForgeSettings) -> bool:
        return bool(settings.gitea_secret)


@admin.register(ForgeDelivery)
class ForgeDeliveryAdmin(ViewOnlyAdmin):
    list_display = ["received_at", "board", "forge", "event", "delivery_id"]
    list_select_related = ["board"]
    list_filter = ["forge", "board"]
    search_fields = ["delivery_id"]
