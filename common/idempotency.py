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

``@idempotent(written_by_handler=True)`` gives the same answers without the claim's own
commit: the handler gets the request's :class:`HandlerKey` (:func:`handler_key`) and
writes it inside its own transactions, as the last write of each, so the key commits
with the work: :meth:`HandlerKey.claim` (in progress) in a transaction that commits work
before more work outside it (a gateway call), :meth:`HandlerKey.complete` (the final
response) in its last transaction. A concurrent duplicate then waits on the unique index
for that commit, its own write fails, its transaction (and whatever it did) rolls back,
and it gets what the stored row says: the replay, 409 while in progress, 422 for another
request. A completed key met this way is replayed although the handler ran: a retry
repeats the work inside a transaction that never commits. What the handler did not store
(a 4xx before or after its transactions, a server error) is settled as above afterwards.
"""

from __future__ import annotations

import functools
import json
from contextlib import nullcontext
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


def _existing_key(
    *, user, key: str, method: str, path: str, request_hash: str, now
) -> IdempotencyKey | None:
    """The stored row of ``key`` a new write of it ran into, settled: None when it is gone
    (released, or expired and deleted now): write again; the row when it is completed
    (replay it) or was a stale in-progress claim, now taken over by this request
    (``created_at`` moved to ``now``; conditional, so one taker wins). Raises
    IdempotencyKeyMismatch for another request and IdempotencyKeyInUse while the first
    request still runs."""
    existing = IdempotencyKey.objects.filter(user=user, key=key).first()
    if existing is None:
        return None
    if existing.expires_at <= now:
        IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
        return None
    if (existing.method, existing.path, existing.request_hash) != (method, path, request_hash):
        raise IdempotencyKeyMismatch(
            "This Idempotency-Key was used with a different request; use a new key."
        )
    if existing.state == IdempotencyKey.State.COMPLETED:
        return existing
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk,
        state=IdempotencyKey.State.IN_PROGRESS,
        created_at__lt=_stale_before(),
    ).update(created_at=now)
    if not taken:
        raise IdempotencyKeyInUse("The first request with this key is still running; retry later.")
    existing.created_at = now
    return existing


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
        existing = _existing_key(
            user=user, key=key, method=method, path=path, request_hash=request_hash, now=now
        )
        if existing is None:  # released or expired meanwhile: claim again
            continue
        if existing.state == IdempotencyKey.State.COMPLETED:
            return None, existing
        return existing, None  # a stale claim taken over
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


def stored_body(data: Any) -> Any:
    """A response's data as the JSON it is sent as (what a replay sends back)."""
    return json.loads(JSONRenderer().render(data)) if data is not None else None


def finish_claim(claim: IdempotencyKey, response: Response) -> None:
    """Store a final (< 500) response; release the key after a server error."""
    if response.status_code >= 500:
        release_claim(claim)
        return
    body = stored_body(response.data)
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
    )


def release_claim(claim: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotent(handler=None, *, written_by_handler: bool = False):
    """Make a DRF view handler honour the ``Idempotency-Key`` header (see module doc).

    ``@idempotent`` claims the key in its own transaction before the handler runs;
    ``@idempotent(written_by_handler=True)`` lets the handler write it in its own
    transactions (:class:`HandlerKey`).
    """
    if handler is None:
        return functools.partial(idempotent, written_by_handler=written_by_handler)

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
        if written_by_handler:
            record = HandlerKey(
                user=user, key=key, method=request.method, path=path, request_hash=fingerprint
            )
            return _run_writing_handler(handler, record, view, request, *args, **kwargs)
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


# --- keys written by the handler ----------------------------------------------------------


class KeyTaken(Exception):
    """Writing the key met another request's row. Raised inside the handler's
    transaction, so that transaction rolls back; the decorator answers from the row."""


class HandlerKey:
    """The Idempotency-Key of one request, written by its handler inside the handler's own
    transactions (``@idempotent(written_by_handler=True)``; see the module doc).

    Each method is one INSERT or UPDATE in the current transaction and should be its last
    write (the row's lock is then held only until the commit). Both raise
    :class:`KeyTaken` when another request holds the key.
    """

    def __init__(self, *, user, key: str, method: str, path: str, request_hash: str) -> None:
        self.user = user
        self.key = key
        self.method = method
        self.path = path
        self.request_hash = request_hash
        # The row this request last wrote (it may have been rolled back since).
        self.pk: int | None = None
        self.claimed_at = None
        self.completed = False

    def claim(self) -> None:
        """Write the key as in progress (work commits before the request is done)."""
        if self.pk is None:
            self._insert(state=IdempotencyKey.State.IN_PROGRESS)

    def complete(self, *, status: int, body: Any) -> None:
        """Write the final response (``status`` < 500) to be replayed for this key."""
        fields = {
            "state": IdempotencyKey.State.COMPLETED,
            "response_status": status,
            "response_body": stored_body(body),
        }
        if self.pk is None:
            self._insert(**fields)
        elif not self._owned().update(**fields):
            raise KeyTaken(self.key)  # taken over as stale meanwhile
        self.completed = True

    def _insert(self, **fields) -> None:
        now = timezone.now()
        values = {"response_status": None, "response_body": None, **fields}
        try:
            pk = IdempotencyKey.objects.insert(
                user=self.user,
                key=self.key,
                method=self.method,
                path=self.path,
                request_hash=self.request_hash,
                created_at=now,
                expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
                **values,
            )
        except IntegrityError:
            raise KeyTaken(self.key) from None
        self.pk, self.claimed_at = pk, now

    def _owned(self):
        return IdempotencyKey.objects.filter(
            pk=self.pk, state=IdempotencyKey.State.IN_PROGRESS, created_at=self.claimed_at
        )

    def settle(self, response: Response) -> Response:
        """After the handler: store a final response it did not store, release the key
        after a server error. Returns the response to send (another request's stored
        response when that one holds the key)."""
        if response.status_code >= 500:
            if self.pk is not None:
                self._owned().delete()
            return response
        if self.completed:
            return response
        fields = {
            "state": IdempotencyKey.State.COMPLETED,
            "response_status": response.status_code,
            "response_body": stored_body(response.data),
        }
        if self.pk is not None and self._owned().update(**fields):
            return response
        self.forget()
        for _attempt in range(3):
            try:
                # Settling runs after the handler, in autocommit; should a caller's transaction
                # be open (a test's), a conflicting insert must not break it for the look-up.
                with _savepoint_if_in_transaction():
                    self._insert(**fields)
                return response
            except KeyTaken:
                answer = _answer_from_row(self)
                if answer is not None:
                    return answer
                if self.pk is not None and self._owned().update(**fields):
                    return response  # a stale claim taken over
                self.forget()
        raise IdempotencyKeyInUse("The key is contended; retry later.")

    def forget(self) -> None:
        """Own no row (what this request wrote was rolled back or taken)."""
        self.pk, self.claimed_at, self.completed = None, None, False


def _savepoint_if_in_transaction():
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def handler_key(request) -> HandlerKey | None:
    """The request's :class:`HandlerKey` (None without an Idempotency-Key)."""
    return getattr(request, "_idempotency_handler_key", None)


def _answer_from_row(record: HandlerKey) -> Response | None:
    """What the stored row of ``record``'s key says to answer: the replay of a completed
    request; raises 422 for another request and 409 while in progress. None when there is
    no row to answer from (it was released or had expired, and is deleted): write again.
    A stale in-progress row is taken over: ``record`` owns it, and None is returned."""
    now = timezone.now()
    existing = _existing_key(
        user=record.user,
        key=record.key,
        method=record.method,
        path=record.path,
        request_hash=record.request_hash,
        now=now,
    )
    if existing is None:
        return None
    if existing.state == IdempotencyKey.State.COMPLETED:
        return replay(existing)
    record.pk, record.claimed_at = existing.pk, now
    return None


def _run_writing_handler(handler, record: HandlerKey, view, request, *args, **kwargs):
    request._idempotency_handler_key = record
    for _attempt in range(3):
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except KeyTaken:
                # The handler's transaction rolled back; the row says what to answer.
                record.forget()
                answer = _answer_from_row(record)
                if answer is not None:
                    return answer
                continue  # the row was gone, expired, or taken over as stale: run again
            except Exception as exc:
                # Render errors here (as dispatch would) so a 4xx outcome is stored too.
                response = view.handle_exception(exc)
        except BaseException:
            record.settle(Response(status=500))
            raise
        try:
            return record.settle(response)
        except BaseException:
            record.settle(Response(status=500))
            raise
    raise IdempotencyKeyInUse("The key is contended; retry later.")
