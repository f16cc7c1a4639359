"""``/`` (and the admin's "View site") lead to a page with the docs, the admin and, in the
embedded default only, the demo logins, instead of a JSON 404."""

import pytest

from partners import demo_data


def test_the_landing_page_links_the_docs_schema_admin_and_health(client, settings):
    settings.EMBEDDED = False

    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for href in ('href="/api/docs"', 'href="/api/schema"', 'href="/admin/"', 'href="/health"'):
        assert href in html
    # Production mode: no demo credentials on a public page.
    assert demo_data.DEMO_PASSWORD not in html
    assert "demo-logins" not in html


def test_in_the_embedded_default_it_lists_the_demo_logins(client, settings):
    settings.EMBEDDED = True

    html = client.get("/", headers={"host": "127.0.0.1:8100"}).content.decode()

    assert 'id="demo-logins"' in html
    for email in (demo_data.CUSTOMER_EMAIL, demo_data.PARTNER_EMAIL, demo_data.SUPPORT_EMAIL):
        assert email in html
    assert demo_data.DEMO_PASSWORD in html
    assert "http://127.0.0.1:8100/api/v1/auth/token" in html


def test_only_get_and_head_are_allowed(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_the_admins_view_site_link_leads_to_the_landing_page(admin_client_support, client):
    index = admin_client_support.get("/admin/").content.decode()

    assert 'href="/">View site' in index
    assert client.get("/").status_code == 200
