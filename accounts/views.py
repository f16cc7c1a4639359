from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import selectors, services
from accounts.authentication import token_error
from accounts.serializers import (
    EmailTokenObtainPairSerializer,
    MeSerializer,
    RegisteredUserSerializer,
    RegisterSerializer,
    TokenAccessSerializer,
    TokenPairSerializer,
    TokenRefreshRequestSerializer,
    TokenRequestSerializer,
)
from accounts.throttles import AuthRateThrottle


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Register a customer or partner",
        description=(
            "Partners must give a city slug and get an unverified Partner profile in that city. "
            "Support accounts cannot self-register. A taken email is a 409 `email_taken`."
        ),
        request=RegisterSerializer,
        responses={201: RegisteredUserSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.register_user(
            email=data["email"],
            password=data["password"],
            role=data["role"],
            name=data["name"],
            city=data.get("city"),
        )
        return Response(RegisteredUserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(TokenObtainPairView):
    """``{email, password}`` -> ``{access, refresh}``; wrong credentials are a 401 problem."""

    serializer_class = EmailTokenObtainPairSerializer
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Obtain a JWT access/refresh pair",
        request=TokenRequestSerializer,
        responses={200: TokenPairSerializer},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefresh(TokenRefreshView):
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new access token",
        request=TokenRefreshRequestSerializer,
        responses={200: TokenAccessSerializer},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:  # 401 token_expired / token_not_valid, a plain sentence
            raise token_error(exc) from None
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], summary="The authenticated user", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = selectors.user_with_profile(user_id=request.user.pk)
        return Response(MeSerializer(user).data)
