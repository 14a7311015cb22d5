"""Create the local admin from DJANGO_SUPERUSER_* variables, or say how to make one."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from operators_app.models import Operator


class Command(BaseCommand):
    help = (
        "Create a superuser (with an operator profile) from DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_PASSWORD and DJANGO_SUPERUSER_EMAIL if it does not exist yet; "
        "otherwise print how to log into the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the service is served."
        )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip().lower()
        user_model = get_user_model()
        if username and password:
            with transaction.atomic():
                user, created = user_model.objects.get_or_create(
                    username=username,
                    defaults={"email": email, "is_staff": True, "is_superuser": True},
                )
                if created:
                    user.set_password(password)
                    user.save(update_fields=["password"])
                Operator.objects.get_or_create(user=user, defaults={"name": username})
            verb = "Created" if created else "Kept existing"
            self.stdout.write(
                f"{verb} admin user '{username}' (password from DJANGO_SUPERUSER_PASSWORD)."
            )
        elif not user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "No admin user yet. Create one with:\n"
                "    .venv/bin/python manage.py createsuperuser\n"
                "or set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
                "and run make run again."
            )
        base = options["base_url"].rstrip("/")
        self.stdout.write(f"Admin: {base}/admin/   API docs: {base}/api/docs/")
