from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_kanban.adapters import validated
from agent_kanban.errors import error_body


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
