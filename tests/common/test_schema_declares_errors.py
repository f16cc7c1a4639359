"""The schema declares the errors and bounds the API really has (issue 13 #11)."""

import pytest


@pytest.fixture
def schema(client):
    return client.get("/api/schema?format=json").json()


@pytest.mark.django_db
def test_shared_error_responses_are_declared_as_problem_details(schema):
    create = schema["paths"]["/api/v1/bookings"]["post"]["responses"]
    cancel = schema["paths"]["/api/v1/bookings/{id}/cancel"]["post"]["responses"]

    assert {"400", "401", "403", "404", "409", "422", "429"} <= set(create)
    assert {"401", "403", "404", "429"} <= set(cancel)
    problem = create["429"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]


@pytest.mark.django_db
def test_paging_and_idempotency_key_bounds_are_declared(schema):
    listing = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/bookings"]["get"]["parameters"]
    }
    create = schema["paths"]["/api/v1/bookings"]["post"]["parameters"]
    key = next(p["schema"] for p in create if p["name"] == "Idempotency-Key")

    assert listing["page"] == {"type": "integer", "minimum": 1}
    assert listing["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert "pattern" in key


@pytest.mark.django_db
def test_operations_without_authentication_do_not_declare_401(schema):
    # Public API operations still read a bearer token if one is sent (a bad one is a 401);
    # the health check and the signed webhooks read none.
    assert "401" in schema["paths"]["/api/v1/services"]["get"]["responses"]
    assert "401" not in schema["paths"]["/health"]["get"]["responses"]
    assert "401" not in schema["paths"]["/webhooks/stripe"]["post"]["responses"]
