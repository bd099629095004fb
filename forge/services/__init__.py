"""Every write of the forge app: the board's forge settings, the `forge` identity, and
what a forge's delivery does (links, comments, moves, through the tickets' and comments'
own services)."""

from forge.services.hooks import BadSignature, hook_receive
from forge.services.identity import forge_identity, forge_join
from forge.services.settings import forge_settings_update

__all__ = [
    "BadSignature",
    "forge_identity",
    "forge_join",
    "forge_settings_update",
    "hook_receive",
]
