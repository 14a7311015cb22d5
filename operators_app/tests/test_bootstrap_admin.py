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
    assert "Created admin user 'admin' with the password from DJANGO_SUPERUSER_PASSWORD" in out
    assert "Admin user 'admin' already exists; its password was left unchanged." in out
    assert "http://127.0.0.1:9000/admin/" in out


def test_without_variables_it_says_how_to_create_an_admin(monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    call_command("bootstrap_admin")

    assert "manage.py createsuperuser" in capsys.readouterr().out
    assert not get_user_model().objects.exists()


def test_an_existing_admin_keeps_its_password_and_the_command_says_so(monkeypatch, capsys):
    user = get_user_model().objects.create_user(
        "admin", password="the-password-it-has", is_staff=True, is_superuser=True
    )
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-different-passphrase")

    call_command("bootstrap_admin")

    user.refresh_from_db()
    assert user.check_password("the-password-it-has")
    out = capsys.readouterr().out
    assert "already exists; its password was left unchanged" in out
    assert "it is not DJANGO_SUPERUSER_PASSWORD" in out
    assert "manage.py changepassword admin" in out
    assert "gave it an operator profile" in out
    assert "password from DJANGO_SUPERUSER_PASSWORD" not in out


def test_only_a_username_creates_nothing_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    call_command("bootstrap_admin")

    assert "nothing was created" in capsys.readouterr().out
    assert not get_user_model().objects.exists()
