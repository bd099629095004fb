"""GET/PUT /api/boards/{id}/forge (board admins), and the hooks the forges call:
POST /api/hooks/{github|gitlab|gitea}/{board_id}, proved by the board's secret instead
of a session or a token (so neither CSRF nor authentication applies to them)."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.adapters import RefuseUnknownFields, StrictCharField, validated
from forge.rules import FORGES, SECRET_MAX, SECRET_MIN
from forge.selectors import forge_settings_get, forge_settings_shown
from forge.services import forge_settings_update, hook_receive


@extend_schema_field(
    {
        "type": "string",
        "anyOf": [{"minLength": SECRET_MIN, "maxLength": SECRET_MAX}, {"maxLength": 0}],
    }
)
class ForgeSecretField(StrictCharField):
    """A forge secret: SECRET_MIN to SECRET_MAX characters, or null or "" to clear it (the
    service's rule; the document states it)."""


def _secret_field(forge: str) -> serializers.CharField:
    return ForgeSecretField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        max_length=SECRET_MAX,
        write_only=True,
        help_text=f"The secret of the board's {forge} hook (write-only): {SECRET_MIN} to "
        f"{SECRET_MAX} characters; null (or empty) clears it.",
    )


def _column_field(what: str) -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_null=True,
        help_text=f"The column a ticket moves to when {what}, or null for no move.",
    )


class ForgeSettingsInput(RefuseUnknownFields):
    ignored_fields = frozenset({"board_id", "hooks", *(f"{forge}_secret_set" for forge in FORGES)})
    github_secret = _secret_field("GitHub")
    gitlab_secret = _secret_field("GitLab")
    gitea_secret = _secret_field("Gitea (or Forgejo)")
    on_pr_opened = _column_field("a pull request mentioning it opens")
    on_pr_merged = _column_field("a pull request mentioning it is merged")


class ForgeSettingsSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    github_secret_set = serializers.BooleanField()
    gitlab_secret_set = serializers.BooleanField()
    gitea_secret_set = serializers.BooleanField()
    on_pr_opened = serializers.CharField(allow_null=True)
    on_pr_merged = serializers.CharField(allow_null=True)
    hooks = inline_serializer(
        "ForgeHookUrls",
        {forge: serializers.URLField() for forge in FORGES},
        help_text="The URL to give each forge as its webhook's payload URL.",
    )


def hook_urls(request, board_id: int) -> dict[str, str]:
    return {forge: request.build_absolute_uri(f"/api/hooks/{forge}/{board_id}") for forge in FORGES}


def settings_answer(request: Request, settings) -> Response:
    shown = forge_settings_shown(settings)
    return Response({**shown, "hooks": hook_urls(request, settings.board_id)})


class ForgeSettingsView(APIView):
    serializer_class = ForgeSettingsInput

    @extend_schema(responses=ForgeSettingsSerializer)
    def get(self, request, board_id: int):
        """The board's forge settings: whether each secret is set (never the secret), the
        two rules' columns, and the hook URLs. Board admins only."""
        return settings_answer(
            request, forge_settings_get(actor=request.user, board_id=int(board_id))
        )

    @extend_schema(request=ForgeSettingsInput, responses=ForgeSettingsSerializer)
    def put(self, request, board_id: int):
        """Set or clear (null) secrets and set the rules' columns; fields left out stay.
        400 `unknown_column` for a column the board does not have. Board admins only;
        audited."""
        data = validated(ForgeSettingsInput, request.data)
        forge_settings_update(actor=request.user, board_id=int(board_id), **data)
        return settings_answer(
            request, forge_settings_get(actor=request.user, board_id=int(board_id))
        )


HOOK_ANSWER = inline_serializer(
    "ForgeHookAnswer",
    {
        "delivery_id": serializers.CharField(required=False),
        "event": serializers.CharField(),
        "linked": serializers.ListField(child=serializers.DictField(), required=False),
        "updated": serializers.ListField(child=serializers.DictField(), required=False),
        "moved": serializers.ListField(child=serializers.DictField(), required=False),
        "refused": serializers.ListField(child=serializers.DictField(), required=False),
        "ignored": serializers.CharField(required=False),
        "replayed": serializers.BooleanField(required=False),
    },
)


class ForgeHookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=None,
        responses={200: HOOK_ANSWER, 401: OpenApiResponse(description="Bad or no signature.")},
    )
    def post(self, request, forge: str, board_id: int):
        """A webhook delivery from GitHub, GitLab or Gitea/Forgejo, signed with the
        board's secret for that forge. Answers what it linked and moved, `ignored` for
        an event the board does not follow, `replayed` for a delivery already done."""
        summary = hook_receive(
            forge=forge,
            board_id=int(board_id),
            headers=request.headers,
            body=request.body,
            content_type=request.content_type or "",
        )
        return Response(summary)
