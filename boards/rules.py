"""Limits on what a board holds, shared by its services and its serializers."""

NAME_MAX = 255
COLUMN_NAME_MAX = 100
COLUMNS_MAX = 30
DESCRIPTION_MAX = 20_000
# Board.review_by: who may pass a ticket through a review column.
REVIEW_BY = ("anyone", "humans")
