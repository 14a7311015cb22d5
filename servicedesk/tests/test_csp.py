"""A Content-Security-Policy on every page, under which the admin, Swagger UI and ReDoc
still work: no inline script on any of them, nothing loaded from another site."""

import re

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/admin/login/", "/api/docs/", "/api/redoc/", "/api/v1/requests/", "/healthz", "/nowhere"]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_policy(client, path):
    directives = policy(client.get(path))

    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def inline_scripts(html: str) -> list[str]:
    return [
        s
        for s in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
        if s.strip()
    ]


def external_urls(html: str) -> list[str]:
    return re.findall(r"(?:src|href)=\"(https?://[^\"]+)\"", html)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/admin/login/"])
def test_the_pages_run_no_inline_script_and_load_nothing_from_elsewhere(client, path):
    html = client.get(path).content.decode()

    assert inline_scripts(html) == []
    assert external_urls(html) == []


def test_swagger_ui_loads_its_start_up_script_from_this_site(client):
    html = client.get("/api/docs/").content.decode()
    (script_url,) = re.findall(r"<script src=\"([^\"]*\?[^\"]*script[^\"]*)\"", html)

    script = client.get(script_url.replace("&amp;", "&"))

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert "/api/schema/" in script.content.decode()


def test_the_admin_index_works_under_the_policy(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert inline_scripts(response.content.decode()) == []
