import gc
import sys

from django.apps import AppConfig

# The collector's thresholds in a serving daphne (Python's are 700, 10, 10). A board
# event to 1,000 watchers makes thousands of short-lived objects at once (a task, a
# message and a frame per watcher); with the default first threshold, collections in
# the middle of that burst promote them to the oldest generation, which is then
# collected in full every few events: 100-190 ms with everything 1,000 connections
# hold, stopping every delivery (issue 18, bench/ws_fanout.py). A larger first
# threshold lets the burst die young.
SERVING_GC_THRESHOLDS = (50_000, 20, 10)


def daphne_is_serving() -> bool:
    """daphne installs Twisted's reactor before it loads the application (and Django):
    a process that only imports the application, such as a test, has none."""
    return "twisted.internet.reactor" in sys.modules


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        # User saves, deletions and sign-outs tell open connections about lost rights.
        from live import access_push  # noqa: F401

        if daphne_is_serving():
            gc.set_threshold(*SERVING_GC_THRESHOLDS)
