"""Security headers on every response, in every environment: a Content-Security-Policy
that allows scripts only from our own static files, a Permissions-Policy that turns off
browser features the app never uses, and Cross-Origin-Opener-Policy.

Style attributes stay allowed (the pages colour avatars and labels with `style="--h: …"`);
CSS cannot run script, and every value in them is escaped by the templates."""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Browsers without style-src-elem/-attr fall back to the first, looser line.
        "style-src 'self' 'unsafe-inline'",
        "style-src-elem 'self' 'unsafe-inline'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        # 'self' covers ws:/wss: to the same host (CSP level 3).
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    """Adds the headers unless a view set its own. Sync and async, so that daphne's
    requests take no thread hop for it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": getattr(
                settings, "CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY
            ),
            "Permissions-Policy": getattr(settings, "PERMISSIONS_POLICY", PERMISSIONS_POLICY),
            "Cross-Origin-Opener-Policy": settings.SECURE_CROSS_ORIGIN_OPENER_POLICY,
        }
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        return self._add_headers(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return self._add_headers(await self.get_response(request))

    def _add_headers(self, response: HttpResponse) -> HttpResponse:
        for name, value in self.headers.items():
            if value:
                response.headers.setdefault(name, value)
        return response
