"""The demo's support login is a member of the Support group, not a superuser
(``manage.py load_demo_data`` calls this after ``partners.demo_data``)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from console.support_group import SUPPORT_GROUP, add_to_support_group
from partners.demo_data import SUPPORT_EMAIL


def load_demo_data(*, stdout) -> None:
    support = get_user_model().objects.get(email=SUPPORT_EMAIL)
    add_to_support_group(user=support)
    stdout.write(f"{SUPPORT_EMAIL} is in the {SUPPORT_GROUP} group.")
