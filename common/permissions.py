"""Role permissions shared by every app's views."""

from rest_framework.permissions import BasePermission

from common.roles import Role


class IsCustomer(BasePermission):
    message = "Only customers can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.CUSTOMER)


class IsPartner(BasePermission):
    """A partner user with a Partner profile (``request.user.partner``)."""

    message = "Only partners can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.role == Role.PARTNER
            and hasattr(user, "partner")
        )


class IsSupport(BasePermission):
    message = "Only support staff can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.SUPPORT and user.is_staff)
