from django.urls import path

from accounts import views

urlpatterns = [
    path("register", views.RegisterView.as_view(), name="auth-register"),
    path("token", views.TokenView.as_view(), name="auth-token"),
    path("token/refresh", views.TokenRefresh.as_view(), name="auth-token-refresh"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("password", views.PasswordChangeView.as_view(), name="auth-password"),
]
