"""Limits on what a board holds, shared by its services and its serializers."""

NAME_MAX = 255
COLUMN_NAME_MAX = 100
COLUMNS_MAX = 30
DESCRIPTION_MAX = 20_000
