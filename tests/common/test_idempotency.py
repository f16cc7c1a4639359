"""The reusable Idempotency-Key decorator, on a throwaway view (no URL needed)."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from common.idempotency import FINGERPRINT_SALT, idempotent, request_fingerprint
from common.models import IdempotencyKey
from common.problems import Conflict
from common.tasks import purge_expired_idempotency_keys
from tests.factories.accounts import CustomerFactory

factory = APIRequestFactory()


class Boom(Conflict):
    code = "boom"


class CountingView(APIView):
    """Echoes the body with a call counter; ``{"fail": 409|500|"crash"}`` makes it fail."""

    calls = 0

    @idempotent
    def post(self, request):
        type(self).calls += 1
        fail = request.data.get("fail")
        if fail == 409:
            raise Boom("nope")
        if fail == 500:
            return Response({"error": "upstream"}, status=503)
        if fail == "crash":
            raise RuntimeError("bug")
        return Response({"call": type(self).calls, "echo": request.data}, status=201)


@pytest.fixture
def view():
    CountingView.calls = 0
    return CountingView.as_view()


def _post(view, user, body, key="key-1", path="/things"):
    request = factory.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    force_authenticate(request, user=user)
    response = view(request)
    response.render()
    return response


def _claim_in_progress(user, body):
    """Key ``key-1`` on POST /things claimed for ``body`` whose request has not finished."""
    return IdempotencyKey.objects.create(
        user=user,
        key="key-1",
        method="POST",
        path="/things",
        request_hash=_fingerprint(body),
        expires_at=timezone.now() + timedelta(hours=24),
    )


@pytest.mark.django_db
def test_same_key_and_body_replays_the_stored_response(view, customer):
    first = _post(view, customer, {"a": 1, "b": [1, 2]})
    second = _post(view, customer, {"b": [1, 2], "a": 1})  # key order does not matter

    assert first.status_code == second.status_code == 201
    assert (
        json.loads(second.content)
        == json.loads(first.content)
        == {
            "call": 1,
            "echo": {"a": 1, "b": [1, 2]},
        }
    )
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert CountingView.calls == 1
    stored = IdempotencyKey.objects.get()
    assert (stored.state, stored.response_status) == ("completed", 201)


@pytest.mark.django_db
def test_same_key_with_another_body_or_path_is_a_422(view, customer):
    _post(view, customer, {"a": 1})

    other_body = _post(view, customer, {"a": 2})
    other_path = _post(view, customer, {"a": 1}, path="/other")

    for response in (other_body, other_path):
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
        assert json.loads(response.content)["code"] == "idempotency_key_mismatch"
    assert CountingView.calls == 1


@pytest.mark.django_db
def test_keys_are_scoped_to_the_user(view, customer):
    other = CustomerFactory()
    _post(view, customer, {"a": 1})
    response = _post(view, other, {"a": 2})
    assert response.status_code == 201
    assert CountingView.calls == 2
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_key_still_in_progress_is_a_409_and_runs_nothing(view, customer):
    _claim_in_progress(customer, {"a": 1})
    response = _post(view, customer, {"a": 1})
    assert response.status_code == 409
    assert json.loads(response.content)["code"] == "idempotency_key_in_use"
    assert CountingView.calls == 0


@pytest.mark.django_db
def test_claim_abandoned_by_a_crashed_worker_is_taken_over(view, customer, settings):
    settings.IDEMPOTENCY_STALE_CLAIM_SECONDS = 60
    _claim_in_progress(customer, {"a": 1})
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        response = _post(view, customer, {"a": 1})
    assert response.status_code == 201
    assert IdempotencyKey.objects.get().state == "completed"


@pytest.mark.django_db
def test_business_errors_are_stored_and_replayed(view, customer):
    first = _post(view, customer, {"fail": 409})
    second = _post(view, customer, {"fail": 409})
    assert first.status_code == second.status_code == 409
    assert json.loads(first.content)["code"] == "boom"
    assert json.loads(second.content) == json.loads(first.content)
    assert second["Content-Type"] == "application/problem+json"
    assert second["Idempotent-Replayed"] == "true"
    assert CountingView.calls == 1


@pytest.mark.django_db
@pytest.mark.parametrize("fail", [500, "crash"])
def test_server_errors_release_the_key_for_a_retry(view, customer, fail):
    response = _post(view, customer, {"fail": fail})
    assert response.status_code >= 500
    assert not IdempotencyKey.objects.exists()

    CountingView.calls = 10
    _post(view, customer, {"fail": fail})  # the same request runs again
    assert CountingView.calls == 11


@pytest.mark.django_db
def test_without_a_key_every_request_runs(view, customer):
    for _ in range(2):
        request = factory.post("/things", {"a": 1}, format="json")
        force_authenticate(request, user=customer)
        assert view(request).status_code == 201
    assert CountingView.calls == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["x" * 256, "k\u00e9y"])
def test_malformed_key_is_a_400(view, customer, key):
    response = _post(view, customer, {"a": 1}, key=key)
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "invalid_idempotency_key"
    assert CountingView.calls == 0
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_expired_keys_are_purged_and_can_be_reused(view, customer, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    _post(view, customer, {"a": 1})
    keep = CustomerFactory()
    with time_machine.travel(timezone.now() + timedelta(hours=23), tick=False):
        _post(view, keep, {"a": 1})

    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        reused = _post(view, customer, {"a": 2})  # an expired key is a fresh key
        assert reused.status_code == 201
        assert json.loads(reused.content)["call"] == 3
        assert purge_expired_idempotency_keys.delay().get() == 0

    with time_machine.travel(timezone.now() + timedelta(hours=49), tick=False):
        assert purge_expired_idempotency_keys.delay().get() == 2
    assert not IdempotencyKey.objects.exists()


def test_the_stored_fingerprint_is_keyed_and_canonical(view, customer, settings):
    _post(view, customer, {"otp": "123456", "n": 1})
    stored = IdempotencyKey.objects.get(user=customer).request_hash
    # Key order and whitespace do not matter...
    assert stored == request_fingerprint(
        method="post", path="/things", data={"n": 1, "otp": "123456"}
    )
    # ...but it is not a plain hash of the request, which anyone could recompute for
    # each of the 10**6 six-digit codes a body might carry.
    plain = 'POST\n/things\n{"n":1,"otp":"123456"}'
    assert stored != hashlib.sha256(plain.encode()).hexdigest()
    expected = hmac.new(
        hashlib.sha256((FINGERPRINT_SALT + settings.SECRET_KEY).encode()).digest(),
        plain.encode(),
        hashlib.sha256,
    ).hexdigest()
    assert stored == expected
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-for-hs256"
    assert stored != _fingerprint({"otp": "123456", "n": 1})


def _fingerprint(body):
    return request_fingerprint(method="POST", path="/things", data=body)
