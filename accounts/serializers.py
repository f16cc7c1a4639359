from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import Role, User
from common.fields import SlugRelatedField
from partners.models import City, Partner

# Phone numbers as SMS providers take them: E.164, a plus and up to 15 digits.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"

# Support accounts are created by an admin, never through the public API.
SELF_REGISTER_ROLES = [
    (Role.CUSTOMER.value, Role.CUSTOMER.label),
    (Role.PARTNER.value, Role.PARTNER.label),
]


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    role = serializers.ChoiceField(choices=SELF_REGISTER_ROLES)
    name = serializers.CharField(max_length=150)
    city = SlugRelatedField(
        slug_field="slug",
        queryset=City.objects.all(),
        required=False,
        allow_null=True,
        help_text="City slug; required for partners.",
    )

    def validate_email(self, value: str) -> str:
        return value.strip().lower()

    def validate(self, attrs: dict) -> dict:
        if attrs["role"] == Role.PARTNER and not attrs.get("city"):
            raise serializers.ValidationError({"city": ["A partner must choose a city."]})
        # The similarity validator compares against the would-be user's attributes.
        candidate = User(email=attrs["email"], name=attrs["name"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class RegisteredUserSerializer(serializers.ModelSerializer):
    partner_id = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "role", "name", "partner_id"]

    def get_partner_id(self, user: User) -> int | None:
        partner = getattr(user, "partner", None)
        return partner.pk if partner else None


class MyPartnerSerializer(serializers.ModelSerializer):
    city = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Partner
        fields = ["id", "name", "city", "verified", "active"]


class MeSerializer(serializers.ModelSerializer):
    partner = serializers.SerializerMethodField()
    city = SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="City slug or null."
    )

    class Meta:
        model = User
        fields = ["id", "email", "role", "name", "phone", "city", "is_staff", "partner"]

    @extend_schema_field(MyPartnerSerializer(allow_null=True))
    def get_partner(self, user: User) -> dict | None:
        partner = getattr(user, "partner", None)
        return MyPartnerSerializer(partner).data if partner else None


class MeUpdateSerializer(serializers.Serializer):
    """The fields a user may change about themselves; each is optional (PATCH)."""

    name = serializers.CharField(max_length=150, required=False)
    phone = serializers.RegexField(
        PHONE_PATTERN,
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="E.164, e.g. +919812345678 (SMS go there); empty to remove.",
        error_messages={"invalid": "Enter the number in E.164 form, e.g. +919812345678."},
    )
    city = SlugRelatedField(
        slug_field="slug",
        queryset=City.objects.all(),
        required=False,
        allow_null=True,
        help_text="City slug; null to remove.",
    )


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    new_password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )

    def validate(self, attrs: dict) -> dict:
        try:
            validate_password(attrs["new_password"], user=self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": list(exc.messages)}) from exc
        return attrs


class EmailTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Emails are stored lower-cased; accept any case at login."""

    def validate(self, attrs: dict) -> dict:
        attrs[self.username_field] = attrs[self.username_field].strip().lower()
        return super().validate(attrs)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenAccessSerializer(serializers.Serializer):
    access = serializers.CharField()
