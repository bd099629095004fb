"""The forges a board hears from, and the limits of what one delivery may do."""

FORGES = ("github", "gitlab", "gitea")
FORGE_NAMES = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}
SECRET_MIN = 12
SECRET_MAX = 255
# One delivery links at most this many tickets, from at most this many commits.
TICKETS_MAX = 20
COMMITS_MAX = 100
TITLE_MAX = 500
URL_MAX = 1000
# Delivery ids longer than this are kept as their SHA-256.
DELIVERY_ID_MAX = 100
# How long a delivery id is remembered: a forge redelivers within days, not months.
DELIVERY_KEEP_DAYS = 90
# The system identity that links and moves tickets for the forges.
FORGE_USERNAME = "forge"
