"""POST /api/tickets/{id}/review: approve a ticket waiting in a review column, or request
changes to it with a comment (`comments.reviews.ticket_review_with_comment`)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from comments.reviews import ticket_review_with_comment
from comments.rules import TEXT_MAX
from core.adapters import (
    RefuseUnknownFields,
    StrictBooleanField,
    StrictCharField,
    expected_version,
    validated,
)
from core.openapi_extensions import IF_MATCH_PARAMETER
from tickets.api import ticket_answer
from tickets.serializers import TicketSerializer
from tickets.services.review import DECISIONS


class ReviewSerializer(RefuseUnknownFields):
    decision = serializers.ChoiceField(
        choices=list(DECISIONS),
        help_text="approve: on to the next column; request_changes: back to the one before, "
        "claim ended, with your comment.",
    )
    comment = StrictCharField(
        max_length=TEXT_MAX,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Markdown; required to request changes. Added to the ticket's comments.",
    )
    override = StrictBooleanField(
        required=False,
        default=False,
        help_text="Board admins only: review your own work (you hold its claim or moved it "
        "into review). Audited.",
    )
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; 409 if it is stale."
    )


class TicketReviewView(APIView):
    serializer_class = ReviewSerializer

    @extend_schema(
        operation_id="tickets_review_create",
        request=ReviewSerializer,
        responses={200: TicketSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    def post(self, request, pk: int):
        """Review a ticket in a column that requires review. 409 `not_in_review` outside
        one; 403 `self_review` for its claimant or whoever moved it into review (board
        admins: `override`), `humans_review` for an agent when the board's `review_by` is
        humans. The answer is the ticket where the review put it."""
        data = validated(ReviewSerializer, request.data)
        version = expected_version(request, data.pop("version", None))
        ticket = ticket_review_with_comment(
            actor=request.user, ticket_id=int(pk), expected_version=version, **data
        )
        return ticket_answer(ticket)
