import re
import time
from collections.abc import Callable

from django.conf import settings

from webhooks.services import webhook_create
from webhooks.worker import deliver_until_idle


def snippet(document: str, heading: str) -> str:
    """The one Python block of the section `heading` of `document`."""
    text = (settings.BASE_DIR / document).read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def readme_verify() -> Callable:
    """The README's signature check, exactly as printed there."""
    code = snippet("README.md", "Webhooks")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope["verify"]


def deliver_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the deliverer in this thread until `condition()` (retries come due meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        deliver_until_idle()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the deliveries did not come to the expected state in time")
        time.sleep(0.02)


def make_webhook(actor, board, url: str, **extra):
    webhook, secret = webhook_create(actor=actor, board_id=board.pk, url=url, **extra)
    return webhook, secret
