from pathlib import Path

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_generates_and_validates_without_warnings(tmp_path: Path):
    target = tmp_path / "schema.yaml"

    # --fail-on-warn turns any undocumented view or ambiguous serializer into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for expected in [
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/auth/token/refresh",
        "/api/v1/services",
        "/api/v1/partners",
        "/api/v1/partners/{id}/slots",
        "/api/v1/provider/slots",
        "/api/v1/provider/slots/{id}/block",
        "/api/v1/provider/staff",
        "/health",
    ]:
        assert expected in paths, expected
    register = paths["/api/v1/auth/register"]["post"]
    assert "201" in register["responses"]
    assert register["requestBody"]["content"]["application/json"]["schema"]
    health = paths["/health"]
    assert set(health) == {"get"}
    assert {"200", "503"} <= set(health["get"]["responses"])
    assert health["get"]["security"] == [{}]  # no authentication


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema").status_code == 200
    assert client.get("/api/docs").status_code == 200
