"""``Idempotency-Key`` support for unsafe API requests (Stripe semantics).

Decorate a DRF view handler (``post``, a viewset's ``create`` or an ``@action``)::

    class BookingViewSet(viewsets.GenericViewSet):
        @idempotent
        def create(self, request): ...

Behaviour when the client sends ``Idempotency-Key: <1..255 printable ASCII>``:

* Keys are scoped to the authenticated user (anonymous requests ignore the header).
* The request fingerprint is an HMAC-SHA256 (keyed by ``SECRET_KEY``) of method, full
  path and the canonical JSON of the parsed body (keys sorted), so whitespace and key
  order do not matter. Keyed because bodies can carry secrets from a small space (a
  6-digit OTP): a plain hash of them could be reversed by trying every code.
* The key is claimed by an INSERT (unique ``(user, key)``) in its own short
  transaction before the handler runs.
* Same key + same request, completed: the stored status and body are returned with
  ``Idempotent-Replayed: true``; the handler does not run again.
* Same key + a different request: 422 ``idempotency_key_mismatch``.
* Same key while the first request is still running: 409 ``idempotency_key_in_use``
  (retry later).
* Responses with status < 500 (success *and* 4xx business errors) are stored and
  replayed, as Stripe does: the outcome of a request that ran is final. A 5xx response
  or an unhandled exception deletes the claim so the client can retry with the same key.
* Keys expire after ``IDEMPOTENCY_KEY_TTL_HOURS`` (a claim found expired is replaced;
  ``common.tasks.purge_expired_idempotency_keys`` deletes old rows). A claim left
  ``in_progress`` by a crashed worker for longer than
  ``IDEMPOTENCY_STALE_CLAIM_SECONDS`` may be taken over by a retry.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.models import IdempotencyKey
from common.problems import PROBLEM_CONTENT_TYPE, Conflict, InvalidRequest, Unprocessable

# The header as operations declare it in the schema.
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe key (scoped to the user, kept 24 h): the same key and body "
    "replays the first response; another body -> 422; while the first runs -> 409.",
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class InvalidIdempotencyKey(InvalidRequest):
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key header"


class IdempotencyKeyMismatch(Unprocessable):
    code = "idempotency_key_mismatch"
    title = "Idempotency-Key reused with a different request"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed"


FINGERPRINT_SALT = "common.idempotency.request_fingerprint"


def request_fingerprint(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    message = f"{method.upper()}\n{path}\n{canonical}"
    return salted_hmac(FINGERPRINT_SALT, message, algorithm="sha256").hexdigest()


def _validated_key(raw: str) -> str:
    if not (0 < len(raw) <= MAX_KEY_LENGTH) or not raw.isascii() or not raw.isprintable():
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return raw


def _stale_before():
    seconds = settings.IDEMPOTENCY_STALE_CLAIM_SECONDS
    return timezone.now() - timedelta(seconds=seconds)


def claim_key(*, user, key: str, method: str, path: str, request_hash: str):
    """Claim ``key`` for this request.

    Returns ``(claim, None)`` when this request owns the key and must run, or
    ``(None, stored)`` when a completed response must be replayed. Raises
    IdempotencyKeyMismatch / IdempotencyKeyInUse.
    """
    now = timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                claim = IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=request_hash,
                    expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
                )
            return claim, None
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:  # the owner failed and released it meanwhile: claim again
            continue
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if (existing.method, existing.path, existing.request_hash) != (method, path, request_hash):
            raise IdempotencyKeyMismatch(
                "This Idempotency-Key was used with a different request; use a new key."
            )
        if existing.state == IdempotencyKey.State.COMPLETED:
            return None, existing
        # Take over a claim abandoned by a crashed worker (conditional: one taker wins).
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk,
            state=IdempotencyKey.State.IN_PROGRESS,
            created_at__lt=_stale_before(),
        ).update(created_at=now)
        if taken:
            existing.created_at = now
            return existing, None
        raise IdempotencyKeyInUse("The first request with this key is still running; retry later.")
    raise IdempotencyKeyInUse("The key is contended; retry later.")


def replay(stored: IdempotencyKey) -> Response:
    status_code = stored.response_status or 200
    response = Response(
        stored.response_body,
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE if status_code >= 400 else None,
    )
    response[REPLAYED_HEADER] = "true"
    return response


def finish_claim(claim: IdempotencyKey, response: Response) -> None:
    """Store a final (< 500) response; release the key after a server error."""
    if response.status_code >= 500:
        release_claim(claim)
        return
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
    )


def release_claim(claim: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotent(handler):
    """Make a DRF view handler honour the ``Idempotency-Key`` header (see module doc)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        raw_key = request.headers.get(HEADER)
        user = request.user
        if raw_key is None or not (user and user.is_authenticated):
            return handler(view, request, *args, **kwargs)
        key = _validated_key(raw_key.strip())
        # Parsing the body may raise ParseError (400) before anything is claimed.
        path = request.get_full_path()
        fingerprint = request_fingerprint(method=request.method, path=path, data=request.data)
        claim, stored = claim_key(
            user=user, key=key, method=request.method, path=path, request_hash=fingerprint
        )
        if stored is not None:
            return replay(stored)
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                # Render errors here (as dispatch would) so a 4xx outcome is stored too.
                response = view.handle_exception(exc)
        except BaseException:
            release_claim(claim)
            raise
        try:
            finish_claim(claim, response)
        except BaseException:
            release_claim(claim)
            raise
        return response

    wrapper.honours_idempotency_key = True  # checked by the API-wide coverage test
    return wrapper
