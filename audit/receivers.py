"""Sign-ins, failed sign-ins and sign-outs, from Django's own auth signals: every way
of signing in (the login page, the admin, POST /api/users/session) sends them."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.services import audit_record
from core.http import request_ip

USERNAME_MAX = 150


@receiver(user_logged_in, dispatch_uid="audit.login")
def record_login(sender, request, user, **kwargs) -> None:
    audit_record(
        actor=user,
        action="auth.login",
        target_type="user",
        target_id=user.pk,
        ip=request_ip(request),
    )


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def record_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Only the name tried: `credentials` has the password masked, and it is never kept.
    username = str(credentials.get("username") or "")[:USERNAME_MAX]
    audit_record(
        actor=None,
        action="auth.login_failed",
        target_type="user",
        ip=request_ip(request),
        details={"username": username},
    )


@receiver(user_logged_out, dispatch_uid="audit.logout")
def record_logout(sender, request, user, **kwargs) -> None:
    if user is None or not getattr(user, "pk", None):
        return  # logging out without being logged in
    audit_record(
        actor=user,
        action="auth.logout",
        target_type="user",
        target_id=user.pk,
        ip=request_ip(request),
    )
