"""Telling a user's open WebSocket connections, at once, that what the user may read may
have shrunk.

Every WebSocket connection joins its user's group (`groups.user_group_name`). Taking a
member off a board, and saving or deleting a user in a way that may take rights away
(switched off, no longer staff), send one message there after the commit; each
connection then asks the database again: it closes with 4401 when the account is
switched off or gone, and unsubscribes the boards it may no longer read. With the Redis
channel layer the message reaches every daphne instance. Connections also ask once a
heartbeat, so a lost message (or a `QuerySet.update()`, which saves nothing) only delays
the cut. Server-sent event streams need no message: they ask before every event.

A saved password ends the user's other sessions (Django's session auth hash), so a save
that may change it is announced the same way, and each connection opened with a session
asks whether that session still signs it in. Signing out (`user_logged_out`) tells the
connections opened with that one session, through its own group
(`groups.session_group_name`), to close."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core import groups

# The fields whose change may take rights away or end sessions (the password: Django's
# session auth hash is made from it).
ACCESS_FIELDS = frozenset({"is_active", "is_staff", "password"})


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="access_push.user_saved")
def _user_saved(sender, instance, created: bool, update_fields, raw: bool, **kwargs) -> None:
    # Admin, commands, any code that saves a user. post_save cannot tell what changed, so
    # every full save is announced (it may have switched the user off, taken staff rights
    # away or changed the password — `set_password()` then `save()`, the admin's password
    # form, `changepassword`); a new user has no connections, and a save naming only
    # other fields (last_login at each sign-in) changes neither rights nor sessions.
    if created or raw:
        return
    if update_fields is not None and not ACCESS_FIELDS & set(update_fields):
        return
    groups.announce_access_changed(instance.pk)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="access_push.user_deleted")
def _user_deleted(sender, instance, **kwargs) -> None:
    groups.announce_access_changed(instance.pk)


@receiver(user_logged_out, dispatch_uid="access_push.signed_out")
def _signed_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed, so its key is still there. Channels' own
    # `logout(scope)` sends no request.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        groups.announce_on_commit(
            groups.session_group_name(session_key), {"type": groups.SIGNED_OUT}
        )
