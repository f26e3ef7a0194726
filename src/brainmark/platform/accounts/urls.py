"""The accounts pages, under ``/accounts/`` (the paths base.html links to are fixed)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from brainmark.platform.accounts import views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_done, name="signup_done"),
    path("activate/<uidb64>/<token>/", views.activate, name="activate"),
    path("activate/again/", views.resend_activation, name="resend_activation"),
    path("login/", views.LoginView.as_view(), name="login"),
    # POST only (Django's LogoutView answers GET with 405), then to the leaderboard.
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="accounts/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("password-change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.profile, name="profile"),
    path(
        "models/<int:pk>/public/", views.model_flag, {"flag": "public"}, name="model_public"
    ),
    path(
        "models/<int:pk>/withdrawn/",
        views.model_flag,
        {"flag": "withdrawn"},
        name="model_withdrawn",
    ),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("delete/", views.delete, name="delete"),
]
