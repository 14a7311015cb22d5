"""What a newcomer meets first: the front page, the API docs and their "Try it out"."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


# --- the front page ----------------------------------------------------------------------


def test_the_front_page_says_what_the_service_is_and_links_its_parts(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "A helpdesk that lives in a mailbox" in page
    links = (
        "/desk/",
        "/admin/",
        "/api/docs/",
        "/api/redoc/",
        "/api/schema/",
        "/healthz",
        "/readyz",
    )
    for link in links:
        assert f'href="{link}"' in page, link


def test_the_front_page_loads_nothing_from_other_hosts(client):
    page = client.get("/").content.decode()

    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


def test_the_front_pages_stylesheet_is_served(client):
    page = client.get("/").content.decode()
    [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)

    assert stylesheet.startswith("/static/")


def test_the_front_page_answers_head_and_refuses_post(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_the_admins_view_site_link_leads_to_the_front_page(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'href="/"' in page


# --- the API docs ------------------------------------------------------------------------


def _document(client) -> dict:
    return yaml.safe_load(client.get("/api/schema/").content)


def test_swagger_try_it_out_starts_with_empty_list_filters(client):
    """Swagger UI fills a parameter in with its example: the list must not come back empty
    because of `search=printer jam` and `created_after=2026-11-20` nobody typed."""
    operation = _document(client)["paths"]["/api/v1/requests/"]["get"]

    for parameter in operation["parameters"]:
        assert "example" not in parameter, parameter["name"]
        assert "examples" not in parameter, parameter["name"]
        assert "example" not in parameter.get("schema", {}), parameter["name"]
        assert "default" not in parameter.get("schema", {}), parameter["name"]
    descriptions = {p["name"]: p.get("description", "") for p in operation["parameters"]}
    assert "`printer jam`" in descriptions["search"]
    assert "`none`" in descriptions["operator"]


def test_the_token_request_has_a_plain_component_name(client):
    document = _document(client)
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/v1/auth/token/"]["post"]["requestBody"]["content"]

    assert "TokenRequestRequest" not in schemas
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/LoginRequest"}
    assert "application/x-www-form-urlencoded" in body


def test_error_examples_are_named_by_their_codes(client):
    responses = _document(client)["paths"]["/api/v1/inbound/emails/"]["post"]["responses"]

    examples = responses["413"]["content"]["application/json"]["examples"]

    names = [example["summary"] for example in examples.values()]
    assert names == ["too_many_messages", "payload_too_large"]


def test_redoc_fetches_no_fonts_or_anything_else_from_the_internet(client):
    page = client.get("/api/redoc/").content.decode()

    assert "fonts.googleapis.com" not in page
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "/static/drf_spectacular_sidecar/redoc/" in page
