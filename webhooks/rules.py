"""Limits and constants of outgoing webhooks, shared by the services, the serializers
and the deliverer."""

# The event types of the board event log (boards.events) a webhook may subscribe to;
# "*" alone means every one of them, including types added later.
EVENT_TYPES = (
    "ticket_created",
    "ticket_updated",
    "ticket_moved",
    "ticket_claimed",
    "ticket_released",
    "ticket_unblocked",
    "ticket_progress",
    "ticket_reviewed",
    "ticket_deleted",
    "comment_added",
    "comment_updated",
    "comment_deleted",
    "board_created",
    "board_updated",
    "board_imported",
    "columns_updated",
    "column_respaced",
)
ALL_EVENTS = "*"

URL_MAX = 2000
SECRET_MIN = 16
SECRET_MAX = 200
WEBHOOKS_PER_BOARD_MAX = 20

# Delivery statuses.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
STATUSES = (PENDING, DELIVERED, FAILED)

# What the deliverer reads of a receiver's answer, and keeps of it.
RESPONSE_BODY_MAX = 64 * 1024
ERROR_TEXT_MAX = 500
# Events turned into deliveries per board per transaction, and deliveries of one
# webhook read at a time for sending.
MATERIALISE_BATCH = 500
SEND_BATCH = 50

USER_AGENT = "Agent-Kanban-Webhooks/1"
