import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from operators_app.models import Operator

pytestmark = pytest.mark.django_db


def test_creates_the_admin_with_an_operator_profile_once(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-local-passphrase")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Admin@Example.com")

    call_command("bootstrap_admin")
    call_command("bootstrap_admin", "--base-url", "http://127.0.0.1:9000")

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password("a-long-local-passphrase")
    assert Operator.objects.filter(user=user).count() == 1
    out = capsys.readouterr().out
    assert "Created admin user 'admin'" in out
    assert "Kept existing admin user 'admin'" in out
    assert "http://127.0.0.1:9000/admin/" in out


def test_without_variables_it_says_how_to_create_an_admin(monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    call_command("bootstrap_admin")

    assert "manage.py createsuperuser" in capsys.readouterr().out
    assert not get_user_model().objects.exists()
