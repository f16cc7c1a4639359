"""Screenshots of the admin as support sees it, in a real browser (``make screenshots``).

Starts the embedded mode (SQLite, in-process tasks) on a free port with its own database
under ``var/screenshots/`` (the `make run` database is left alone), loads the demo data,
makes a little traffic through the public API and the sandbox checkout (bookings paid,
failed, left unpaid, one cancelled with its refund and disputed), then logs in to the
admin as the demo support user in headless Chromium (Debian's ``chromium`` and
``chromedriver``, driven by selenium) and writes PNGs to ``var/screenshots/``: the
dashboard, a booking page, a dispute page and the bookings, payments, slots and refunds
lists, 1400 px wide.

Usage: ``python scripts/screenshots.py [--out DIR] [--width 1400]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEMO_PASSWORD = "slotwise-demo"
SUPPORT_EMAIL = "support@example.com"
CUSTOMER_EMAIL = "customer@example.com"


def ensure_chromium() -> None:
    """Debian's chromium and its driver, installed with apt-get when absent."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    print("Installing chromium and chromium-driver (apt-get)...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    # Fixed argument lists, no shell (S603 is about untrusted input).
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*sudo, "apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], check=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(database: Path) -> dict[str, str]:
    """The embedded default (no DATABASE_URL, no broker) on its own SQLite file."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update({"SQLITE_PATH": str(database), "DEBUG": "false", "PYTHONUNBUFFERED": "1"})
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL
    )


@contextmanager
def server(env: dict[str, str], port: int, log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if requests.get(f"{base}/health", timeout=2).status_code < 500:
                        break
                except requests.ConnectionError:
                    pass
                if process.poll() is not None:
                    raise SystemExit(f"The server stopped; see {log}")
                time.sleep(0.2)
            else:
                raise SystemExit(f"The server did not answer on {base}; see {log}")
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


class Customer:
    """The demo customer, through the public API and the sandbox checkout page."""

    def __init__(self, base: str):
        self.base = base
        token = requests.post(
            f"{base}/api/v1/auth/token",
            json={"email": CUSTOMER_EMAIL, "password": DEMO_PASSWORD},
            timeout=10,
        )
        token.raise_for_status()
        self.auth = {"Authorization": f"Bearer {token.json()['access']}"}

    def api(self, method: str, path: str, **kwargs) -> dict:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        response = requests.request(
            method, f"{self.base}/api/v1/{path}", headers=headers, timeout=30, **kwargs
        )
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def book(self, *, service: str, variant: int) -> dict:
        assigned = self.api(
            "POST",
            "partners/assign",
            json={"city": "bengaluru", "service": service, "variant": variant},
        )
        return self.api(
            "POST",
            "bookings",
            json={"slot_id": assigned["slot"]["id"], "variant_id": variant},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    def checkout(self, booking: dict, button: str) -> None:
        """Press ``pay`` or ``fail`` on the sandbox checkout page, as a browser would."""
        url = booking["payment"]["checkout_url"]
        browser = requests.Session()
        browser.get(url, timeout=10).raise_for_status()
        answer = browser.post(
            f"{url}/{button}",
            data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": url},
            timeout=30,
        )
        answer.raise_for_status()


def make_traffic(base: str) -> dict[str, int]:
    """A few bookings in the states support meets; returns the ids worth a screenshot."""
    customer = Customer(base)
    variants = {
        v["tier"]: v["id"]
        for s in customer.api("GET", "services")["results"]
        if s["slug"] == "home-cleaning"
        for v in s["variants"]
    }
    disputed = customer.book(service="home-cleaning", variant=variants["basic"])
    customer.checkout(disputed, "pay")
    customer.api("POST", f"bookings/{disputed['id']}/cancel", json={"reason": "plans changed"})
    dispute = customer.api(
        "POST",
        f"bookings/{disputed['id']}/disputes",
        json={"reason": "The refund is less than I was promised on the phone."},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    confirmed = customer.book(service="home-cleaning", variant=variants["premium"])
    customer.checkout(confirmed, "pay")
    failed = customer.book(service="home-cleaning", variant=variants["express"])
    customer.checkout(failed, "fail")
    customer.book(service="home-cleaning", variant=variants["basic"])  # left unpaid
    return {"booking": disputed["id"], "dispute": dispute["id"]}


def take_screenshots(base: str, ids: dict[str, int], out: Path, width: int) -> list[Path]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},900")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    pages = {
        "dashboard": "/admin/",
        "booking": f"/admin/bookings/booking/{ids['booking']}/change/",
        "dispute": f"/admin/refunds/dispute/{ids['dispute']}/change/",
        "bookings": "/admin/bookings/booking/",
        "payments": "/admin/payments/payment/",
        "slots": "/admin/partners/slot/",
        "refunds": "/admin/refunds/refund/",
    }
    written = []
    try:
        driver.get(f"{base}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(SUPPORT_EMAIL)
        driver.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
        if "/admin/login/" in driver.current_url:
            raise SystemExit("The admin login as the demo support user failed.")
        for name, path in pages.items():
            driver.get(base + path)
            # The whole page, not the first screenful: grow the window to the content.
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height, 900), 6000))
            target = out / f"{name}.png"
            driver.save_screenshot(str(target))
            written.append(target)
            driver.set_window_size(width, 900)
    finally:
        driver.quit()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BASE_DIR / "var" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()

    ensure_chromium()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    database = out / "db.sqlite3"
    database.unlink(missing_ok=True)
    env = embedded_env(database)
    os.environ["SE_OFFLINE"] = "true"  # selenium must not try to download a driver
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "load_demo_data")
    port = free_port()
    # Payment links (the sandbox checkout) name the server the script started.
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    with server(env, port, out / "server.log") as base:
        ids = make_traffic(base)
        written = take_screenshots(base, ids, out, args.width)
    for path in written:
        print(path.relative_to(BASE_DIR) if path.is_relative_to(BASE_DIR) else path)


if __name__ == "__main__":
    main()
