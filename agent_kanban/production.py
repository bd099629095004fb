"""Production settings: with ENVIRONMENT=production the unsafe development defaults are
refused at start-up, and HTTPS-only cookies, HSTS and the SSL redirect are switched on.

TLS ends at the proxy (nginx), which must set X-Forwarded-Proto on every request it
forwards; the health checks stay reachable over plain HTTP for the proxy itself."""

from django.core.exceptions import ImproperlyConfigured

from agent_kanban.env import env_bool, env_int, env_list

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-in-production"
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5
ONE_YEAR = 365 * 24 * 60 * 60

# Paths (without the leading slash) that never redirect to HTTPS.
REDIRECT_EXEMPT = [r"^health/?$", r"^api/health(/[a-z]+)?/?$", r"^metrics/?$"]


def refusals(
    *, debug: bool, secret_key: str, allowed_hosts: list[str], cors_origins: list[str]
) -> list[str]:
    """What makes these settings unfit for production, one sentence each."""
    problems = []
    if debug:
        problems.append("DEBUG must be off (unset DEBUG or set DEBUG=false).")
    if secret_key == DEV_SECRET_KEY or secret_key.startswith("django-insecure-"):
        problems.append("SECRET_KEY is the development default; set a long random value.")
    elif len(secret_key) < SECRET_KEY_MIN_LENGTH or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE:
        problems.append(
            f"SECRET_KEY is too weak: it needs at least {SECRET_KEY_MIN_LENGTH} characters "
            f"and {SECRET_KEY_MIN_UNIQUE} different ones (python -c 'import secrets; "
            "print(secrets.token_urlsafe(64))')."
        )
    if not allowed_hosts:
        problems.append("ALLOWED_HOSTS is empty; list the host names the site is served as.")
    elif "*" in allowed_hosts:
        problems.append("ALLOWED_HOSTS must not contain '*'; list the host names.")
    if not cors_origins:
        problems.append(
            "CORS_ORIGINS is empty; list the origins allowed to call the API from a browser "
            '(at least the site\'s own, e.g. ["https://kanban.example.com"]).'
        )
    return problems


def require_production_ready(
    *, debug: bool, secret_key: str, allowed_hosts: list[str], cors_origins: list[str]
) -> None:
    """Refuse to start with settings that are unsafe in production."""
    problems = refusals(
        debug=debug, secret_key=secret_key, allowed_hosts=allowed_hosts, cors_origins=cors_origins
    )
    if problems:
        raise ImproperlyConfigured(
            "ENVIRONMENT=production refuses these settings:\n- " + "\n- ".join(problems)
        )


def secure_transport_settings() -> dict:
    """The HTTPS settings for production, each overridable from the environment."""
    preload = env_bool("SECURE_HSTS_PRELOAD", False)
    return {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": env_int("SECURE_HSTS_SECONDS", ONE_YEAR),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True),
        # Off by default: once a domain is on the browsers' preload lists it takes months
        # to come off, so that is the operator's decision, not ours.
        "SECURE_HSTS_PRELOAD": preload,
        "SECURE_SSL_REDIRECT": env_bool("SECURE_SSL_REDIRECT", True),
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_REDIRECT_EXEMPT": REDIRECT_EXEMPT + env_list("SECURE_REDIRECT_EXEMPT"),
        # W021 only says "preload is off", which is the decision above.
        "SILENCED_SYSTEM_CHECKS": [] if preload else ["security.W021"],
    }
