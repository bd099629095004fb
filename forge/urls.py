"""The REST paths of forge settings and incoming forge hooks, under /api/."""

urlpatterns: list = []
