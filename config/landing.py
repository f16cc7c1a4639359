"""``/``: a small page pointing at the API docs, the admin and, in the embedded default,
the demo logins (also where the admin's "View site" leads)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_safe

from partners import demo_data


@require_safe
def landing(request):
    demo_logins = []
    if settings.EMBEDDED:  # demo data is only ever loaded there by make run
        demo_logins = [
            (demo_data.CUSTOMER_EMAIL, "customer"),
            (demo_data.PARTNER_EMAIL, "partner (Sparkle Home Services, Bengaluru)"),
            (demo_data.SUPPORT_EMAIL, "support staff: the admin"),
        ]
    return render(
        request,
        "slotwise/landing.html",
        {"demo_logins": demo_logins, "demo_password": demo_data.DEMO_PASSWORD},
    )
