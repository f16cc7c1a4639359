"""A small Razorpay refund endpoint on a real local socket, for a worker in another process.

``RAZORPAY_API_BASE`` points the worker's SDK at it. Like Razorpay, it makes one refund
per ``X-Refund-Idempotency`` key and answers a repeated key with the refund it made the
first time, also when that first answer never reached the caller. It records every
request per key; ``hold_first_answer`` makes the first request of a new key wait, the
refund already made, until :meth:`release` (or ``HOLD_LIMIT_SECONDS``): the window in
which a test kills the worker.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUND_PATH = re.compile(r"^/v1/payments/(?P<payment_id>[^/]+)/refund$")
HOLD_LIMIT_SECONDS = 120


class FakeRazorpayRefunds:
    def __init__(self, *, hold_first_answer: bool = True) -> None:
        self.hold_first_answer = hold_first_answer
        self.requests: dict[str, list[dict]] = {}  # by idempotency key, in arrival order
        self.refunds: dict[str, dict] = {}  # by idempotency key: what the gateway made
        self.first_request = threading.Event()
        self.later_request = threading.Event()  # any request after the first
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeRazorpayRefunds:
        self._thread.start()
        return self

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, payment_id: str, key: str, body: dict) -> tuple[dict, bool]:
        """(the refund for ``key``, whether this request made it)."""
        with self._lock:
            if self.requests:
                self.later_request.set()
            self.requests.setdefault(key, []).append(body)
            refund = self.refunds.get(key)
            if refund is not None:
                return refund, False
            refund = {
                "id": f"rfnd_fake_{len(self.refunds) + 1}",
                "entity": "refund",
                "amount": body["amount"],
                "currency": "INR",
                "payment_id": payment_id,
                "status": "processed",
                "notes": body.get("notes", {}),
            }
            self.refunds[key] = refund
            self.first_request.set()
            return refund, True

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                match = REFUND_PATH.match(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                key = self.headers.get("X-Refund-Idempotency", "")
                if match is None or not key:
                    self.send_error(404 if match is None else 400)
                    return
                refund, new = fake._answer(match["payment_id"], key, body)
                if new and fake.hold_first_answer:
                    fake._release.wait(HOLD_LIMIT_SECONDS)
                payload = json.dumps(refund).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller died while we held the answer

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

        return Handler
