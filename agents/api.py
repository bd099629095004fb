from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import token_get, token_list, token_owner
from agents.serializers import TokenCreatedSerializer, TokenCreateSerializer, TokenSerializer
from agents.services import token_issue, token_revoke
from core.adapters import validated
from core.errors import error_body
from core.http import request_ip


class IdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    email = serializers.CharField()
    kind = serializers.CharField(help_text="human or agent")
    is_admin = serializers.BooleanField()


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


def identity(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.get_full_name(),
        "email": user.email,
        "kind": user.kind,
        "is_admin": user.is_staff,
    }


class SessionView(APIView):
    """POST logs in (sets the session cookie), GET tells who you are, DELETE logs out."""

    serializer_class = LoginSerializer

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_authenticators(self):
        # Logging in must not demand a CSRF token from a session that does not exist yet.
        # The schema generator asks without a request.
        if getattr(self.request, "method", None) == "POST":
            return []
        return super().get_authenticators()

    @extend_schema(request=LoginSerializer, responses={200: IdentitySerializer})
    def post(self, request):
        data = validated(LoginSerializer, request.data)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            body = error_body("Wrong username or password.", "invalid_credentials")
            return Response(body, status=status.HTTP_401_UNAUTHORIZED)
        login(request._request, user)
        return Response({**identity(user), "csrf_token": get_token(request._request)})

    @extend_schema(responses=IdentitySerializer)
    def get(self, request):
        return Response(identity(request.user))

    @extend_schema(responses={204: None})
    def delete(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- API tokens


class TokenListView(GenericAPIView):
    """GET lists your tokens (site admins: `?user=NAME` for an agent's); POST makes one."""

    serializer_class = TokenSerializer

    @extend_schema(
        parameters=[OpenApiParameter("user", str, description="Whose tokens (site admins only).")],
        responses=TokenSerializer(many=True),
    )
    def get(self, request):
        owner = token_owner(actor=request.user, username=request.query_params.get("user"))
        page = self.paginate_queryset(token_list(actor=request.user, owner=owner))
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request):
        """Make a token. The answer carries its `secret`, the only time it is ever shown."""
        data = validated(TokenCreateSerializer, request.data)
        owner = token_owner(actor=request.user, username=data.pop("user", None))
        issued = token_issue(
            actor=request.user,
            user=owner,
            name=data["name"],
            expires_at=data.get("expires_at"),
            read_only=data["read_only"],
            board_ids=data.get("board_ids"),
            ip=request_ip(request),
        )
        token = token_get(actor=request.user, token_id=issued.token.pk)
        body = {**TokenSerializer(token).data, "secret": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetailView(GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(responses=TokenSerializer)
    def get(self, request, token_id: int):
        return Response(TokenSerializer(token_get(actor=request.user, token_id=int(token_id))).data)


class TokenRevokeView(GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(request=None, responses=TokenSerializer)
    def post(self, request, token_id: int):
        """Revoke the token: it stops working at once, and its open WebSocket connections
        and MCP sessions are closed. Revoking a revoked token changes nothing."""
        token = token_get(actor=request.user, token_id=int(token_id))
        token_revoke(actor=request.user, token=token, ip=request_ip(request))
        token = token_get(actor=request.user, token_id=token.pk)
        return Response(TokenSerializer(token).data)
