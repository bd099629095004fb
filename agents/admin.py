from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import ApiToken, User
from agents.services import token_revoke
from core.http import request_ip


class UserCreateForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ["username", "is_agent"]


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, telling agents from people. An agent made here has no
    token yet: `manage.py create_token NAME` issues one."""

    add_form = UserCreateForm
    form = UserEditForm

    list_display = [
        "username",
        "is_agent",
        "email",
        "first_name",
        "last_name",
        "is_active",
        "is_staff",
        "last_login",
    ]
    list_filter = ["is_agent", "is_active", "is_staff", "is_superuser", "groups"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Agent", {"fields": ["is_agent"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "is_agent", "usable_password", "password1", "password2"],
            },
        ),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be looked at and revoked here, never made: the secret exists only at
    the moment it is issued and must be shown to whoever asked for it. Issue tokens
    with `manage.py create_token USERNAME` (or `create_agent NAME` for a new agent).
    Tokens are revoked rather than deleted, so that their use stays on record."""

    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "read_only",
        "board_list",
    ]
    list_select_related = ["user"]
    list_filter = [
        "user__is_agent",
        "read_only",
        ("revoked_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["name", "prefix", "user__username"]
    fields = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "read_only",
        "boards",
    ]
    readonly_fields = fields
    filter_horizontal = ["boards"]
    actions = ["revoke_selected"]
    help_text = (
        "Tokens are issued with “manage.py create_token USERNAME” (or “manage.py create_agent "
        "NAME” for a new agent), which shows the secret once. Here they can only be revoked."
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        return super().get_queryset(request).prefetch_related("boards")

    @admin.display(description="Boards")
    def board_list(self, token: ApiToken) -> str:
        return ", ".join(board.name for board in token.boards.all()) or "all"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("agents.change_apitoken")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(
            request, {"subtitle": self.help_text, **(extra_context or {})}
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = [token for token in queryset if token.revoked_at is None]
        for token in tokens:
            # Through the service: audited, and the token's live sessions are closed.
            token_revoke(actor=request.user, token=token, ip=request_ip(request))
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)
