"""Limits on comments, shared by their services and their serializers."""

TEXT_MAX = 20_000
