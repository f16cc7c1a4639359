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
    LogoutSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    RegisteredUserSerializer,
    RegisterSerializer,
    TokenAccessSerializer,
    TokenPairSerializer,
    TokenRefreshRequestSerializer,
    TokenRequestSerializer,
)
from accounts.throttles import AuthRateThrottle
from common.idempotency import IDEMPOTENCY_KEY, idempotent
from common.problems import PROBLEM


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

    @extend_schema(
        tags=["auth"],
        summary="Change my name, phone or city",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, 400: PROBLEM},
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.update_profile(user_id=request.user.pk, changes=serializer.validated_data)
        user = selectors.user_with_profile(user_id=request.user.pk)
        return Response(MeSerializer(user).data)


class LogoutView(APIView):
    """The refresh token is the credential here, so an expired access token can log out."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke a refresh token",
        description=(
            "The refresh token is blacklisted: refreshing with it is a 401 "
            "`token_not_valid`. Access tokens already issued work until they expire."
        ),
        request=LogoutSerializer,
        responses={204: None, 400: PROBLEM, 401: PROBLEM},
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.log_out(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_authenticate_header(self, request: Request) -> str:
        # A refused refresh token is a 401 like on token/refresh (DRF makes it a 403 for a
        # view without authenticators).
        return 'Bearer realm="api"'


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Change my password",
        description=(
            "A wrong `old_password` is a 400 `wrong_password`. Every refresh token issued "
            "before is revoked (log in again with the new password); access tokens work "
            "until they expire. No tokens in the answer: a replayed `Idempotency-Key` "
            "answer is stored, and tokens must not be."
        ),
        request=PasswordChangeSerializer,
        responses={204: None, 400: PROBLEM},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        services.change_password(
            user_id=request.user.pk,
            old_password=serializer.validated_data["old_password"],
            new_password=serializer.validated_data["new_password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
