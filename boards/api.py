from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from boards import selectors, services
from boards.access import ADMIN, require_board
from boards.serializers import (
    BoardCreateSerializer,
    BoardSerializer,
    BoardUpdateSerializer,
    ColumnSerializer,
    ColumnsUpdateSerializer,
    MembershipCreateSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
)
from core.adapters import validated
from core.errors import InvalidInput, field_error


def board_response(request, board_id: int, status_code: int = 200) -> Response:
    board = selectors.board_get(actor=request.user, board_id=board_id)
    return Response(BoardSerializer(board).data, status=status_code)


def member_response(request, board_id: int, user_id: int, status_code: int = 200) -> Response:
    membership = selectors.membership_get(actor=request.user, board_id=board_id, user_id=user_id)
    return Response(MembershipSerializer(membership).data, status=status_code)


class BoardViewSet(viewsets.GenericViewSet):
    lookup_value_regex = r"\d+"
    serializer_class = BoardSerializer

    def get_queryset(self):
        return selectors.board_list(actor=self.request.user)

    def get_serializer_class(self):
        return {
            "create": BoardCreateSerializer,
            "update": BoardUpdateSerializer,
            "partial_update": BoardUpdateSerializer,
            "columns": ColumnsUpdateSerializer,
            "members": MembershipCreateSerializer,
            "member": MembershipRoleSerializer,
        }.get(self.action, BoardSerializer)

    @extend_schema(responses=BoardSerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(selectors.board_list(actor=request.user))
        return self.get_paginated_response(BoardSerializer(page, many=True).data)

    @extend_schema(request=BoardCreateSerializer, responses={201: BoardSerializer})
    def create(self, request):
        data = validated(BoardCreateSerializer, request.data)
        board = services.board_create(actor=request.user, **data)
        return board_response(request, board.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=BoardSerializer)
    def retrieve(self, request, pk: int):
        return board_response(request, int(pk))

    @extend_schema(request=BoardUpdateSerializer, responses=BoardSerializer)
    def update(self, request, pk: int):
        data = validated(BoardUpdateSerializer, request.data)
        services.board_update(actor=request.user, board_id=int(pk), **data)
        return board_response(request, int(pk))

    @extend_schema(request=BoardUpdateSerializer, responses=BoardSerializer)
    def partial_update(self, request, pk: int):
        return self.update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk: int):
        services.board_delete(actor=request.user, board_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=ColumnSerializer(many=True))
    @extend_schema(
        methods=["PUT"], request=ColumnsUpdateSerializer, responses=ColumnSerializer(many=True)
    )
    @action(detail=True, methods=["get", "put"], pagination_class=None)
    def columns(self, request, pk: int):
        """GET the columns; PUT the whole ordered list to add, rename, reorder or remove."""
        selectors.board_get(actor=request.user, board_id=int(pk))
        if request.method == "PUT":
            data = validated(ColumnsUpdateSerializer, request.data)
            specs = [
                {
                    key: column[key]
                    for key in ("id", "name", "wip_limit", "requires_review")
                    if key in column
                }
                for column in data["columns"]
            ]
            services.board_set_columns(actor=request.user, board_id=int(pk), columns=specs)
        return Response(selectors.board_columns(board_id=int(pk)))

    @extend_schema(methods=["GET"], responses=MembershipSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=MembershipCreateSerializer, responses={201: MembershipSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def members(self, request, pk: int):
        """GET the board's members and roles (any member may); POST `user_id` or `username`
        with a `role` to add someone or change their role (board admins only)."""
        if request.method == "POST":
            data = validated(MembershipCreateSerializer, request.data)
            user_id = data.get("user_id")
            if "username" in data:
                # Admins only may learn whether a username exists.
                require_board(request.user, int(pk), ADMIN)
                user = selectors.user_by_username(data["username"])
                if user is None:
                    message = f"No active user named {data['username']!r}."
                    raise InvalidInput(
                        message, validation_errors=[field_error("username", message)]
                    )
                user_id = user.pk
            services.membership_set(
                actor=request.user, board_id=int(pk), user_id=user_id, role=data["role"]
            )
            return member_response(request, int(pk), user_id, status.HTTP_201_CREATED)
        members = selectors.board_members(actor=request.user, board_id=int(pk))
        return Response(MembershipSerializer(members, many=True).data)

    @extend_schema(
        methods=["PATCH"], request=MembershipRoleSerializer, responses=MembershipSerializer
    )
    @extend_schema(methods=["DELETE"], responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<user_id>\d+)")
    def member(self, request, pk: int, user_id: int):
        """PATCH a member's `role`, or DELETE them from the board (board admins only; the
        last admin stays)."""
        board_id, user_id = int(pk), int(user_id)
        if request.method == "DELETE":
            services.membership_remove(actor=request.user, board_id=board_id, user_id=user_id)
            return Response(status=status.HTTP_204_NO_CONTENT)
        selectors.membership_get(actor=request.user, board_id=board_id, user_id=user_id)
        data = validated(MembershipRoleSerializer, request.data)
        services.membership_set(
            actor=request.user, board_id=board_id, user_id=user_id, role=data["role"]
        )
        return member_response(request, board_id, user_id)
