"""What any layer may ask of the acting user without knowing our apps: Django's own user
flags only."""


def is_site_admin(user) -> bool:
    """Site admins (`is_staff`) act as a board admin everywhere and read the audit log."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)
