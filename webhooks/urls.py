"""The REST paths of outgoing webhooks, under /api/."""

urlpatterns: list = []
