"""The Webhooks page of a board: its webhooks and their deliveries."""

urlpatterns: list = []
