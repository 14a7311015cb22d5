"""Create the local admin from DJANGO_SUPERUSER_* variables, or say how to make one."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from operators_app.models import Operator
from operators_app.services import attach_operator
from servicedesk.management.hints import admin_hint


class Command(BaseCommand):
    help = (
        "Create a superuser (with an operator profile) from DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_PASSWORD and DJANGO_SUPERUSER_EMAIL if it does not exist yet; "
        "then print how to log into the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the service is served."
        )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip().lower()
        if username and password:
            self.stdout.write(self._bootstrap(username, password, email))
        elif username or password:
            self.stdout.write(
                "DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD must both be set to "
                "create the admin; nothing was created."
            )
        self.stdout.write(admin_hint(options["base_url"]))

    def _bootstrap(self, username: str, password: str, email: str) -> str:
        """Create the admin or keep the one there is; answer what was actually done."""
        user_model = get_user_model()
        with transaction.atomic():
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={"email": email, "is_staff": True, "is_superuser": True},
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
            had_profile = Operator.objects.filter(user=user).exists()
            attach_operator(user=user)
        if created:
            return (
                f"Created admin user '{username}' with the password from "
                "DJANGO_SUPERUSER_PASSWORD, and its operator profile."
            )
        said = [f"Admin user '{username}' already exists; its password was left unchanged"]
        if not user.check_password(password):
            said.append(
                f"(it is not DJANGO_SUPERUSER_PASSWORD; set a new one with: "
                f".venv/bin/python manage.py changepassword {username})"
            )
        if not (user.is_staff and user.is_superuser):
            said.append("- note: this user is not a superuser")
        if not had_profile:
            said.append("- gave it an operator profile")
        return " ".join(said) + "."
