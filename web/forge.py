"""The forge settings of a board (GitHub, GitLab, Gitea), linked from its Webhooks page."""

urlpatterns: list = []
