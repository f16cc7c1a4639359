from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import Role, User
from common.fields import SlugRelatedField
from partners.models import City, Partner

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

    class Meta:
        model = User
        fields = ["id", "email", "role", "name", "phone", "is_staff", "partner"]

    @extend_schema_field(MyPartnerSerializer(allow_null=True))
    def get_partner(self, user: User) -> dict | None:
        partner = getattr(user, "partner", None)
        return MyPartnerSerializer(partner).data if partner else None


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
