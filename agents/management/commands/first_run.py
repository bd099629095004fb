import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from boards.models import Board
from boards.services import board_create


class Command(BaseCommand):
    help = "Create the first admin account and a first board if there are none; say how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--username", default="admin")

    def handle(self, *args, url: str, username: str, **options):
        user_model = get_user_model()
        password_file = settings.VAR_DIR / "admin-password.txt"
        admin = user_model.objects.filter(username=username).first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = user_model.objects.create_superuser(username=username, password=password)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            self.stdout.write(f"Created the admin account {username!r}.")
        if not Board.objects.exists():
            board_create(
                actor=admin,
                name="Getting started",
                description="Your first board. Rename it, or make another.",
            )
            self.stdout.write("Created the board 'Getting started'.")
        if password_file.exists():
            password = password_file.read_text().strip()
            how = f"as {username!r} with the password {password!r} (kept in {password_file})"
        else:
            how = f"as {username!r} with the password you set"
        self.stdout.write(self.style.SUCCESS(f"Agent Kanban is at {url}/ — log in there {how}."))
