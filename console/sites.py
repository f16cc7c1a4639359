"""The admin site of Slotwise: Django's own, whose index page opens with the operators'
dashboard (``console.dashboard``) above the usual list of models."""

from __future__ import annotations

from django.contrib import admin

from console.dashboard import dashboard


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Slotwise operations"
    site_title = "Slotwise admin"
    index_title = "Dashboard"
    index_template = "admin/console/index.html"

    def index(self, request, extra_context=None):
        context = {"dashboard": dashboard(user=request.user), **(extra_context or {})}
        return super().index(request, extra_context=context)
