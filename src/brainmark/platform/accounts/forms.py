"""The accounts forms: every rule is checked here, each error names the field it is about."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.http import HttpRequest
from django.urls import reverse

from brainmark.platform.accounts import ratelimit
from brainmark.platform.accounts.models import ApiToken
from brainmark.platform.accounts.services import (
    AccountError,
    awaits_activation,
    check_new_user_email,
    site_link,
    user_for_email,
)

INACTIVE_MESSAGE = (
    "This account is not activated yet: open the link in the activation e-mail we sent "
    "to %(email)s. No e-mail? Send it again below."
)
DEACTIVATED_MESSAGE = (
    "This account was deactivated by the site's staff; write to them to have it back."
)


class SignupForm(forms.Form):
    """E-mail and password twice; the address must be new (compared without case)."""

    email = forms.EmailField(
        label="E-mail",
        max_length=get_user_model()._meta.get_field("username").max_length,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        try:
            return check_new_user_email(self.cleaned_data["email"])
        except AccountError as error:
            if user_for_email(self.cleaned_data["email"]) is not None:
                raise forms.ValidationError(
                    "An account with this e-mail address already exists. Log in, or reset "
                    "your password if you forgot it; if you never activated it, ask for the "
                    "activation e-mail again.",
                    code="exists",
                ) from error
            raise forms.ValidationError(str(error), code="invalid") from error

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1 and "email" in cleaned:
            user_model = get_user_model()
            unsaved = user_model(username=cleaned["email"], email=cleaned["email"])
            try:
                validate_password(password1, user=unsaved)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class EmailAuthenticationForm(AuthenticationForm):
    """Log in by e-mail (any case) and password; an inactive account is told to activate.

    Only someone who knows the password learns that the account is inactive. Every try
    counts against the limit on failed log-ins of this address from this client address
    (:data:`~brainmark.platform.accounts.ratelimit.LOGIN_FAILURE`) until the password proves
    right; once the limit is reached, tries are refused before the password is looked at.
    """

    username = forms.EmailField(
        label="E-mail",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The e-mail address or the password is wrong.",
        "inactive": INACTIVE_MESSAGE,
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.inactive_email: str | None = None
        self.rate_limited: ratelimit.RateLimited | None = None

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email and password:
            client = ratelimit.client_ip(self.request) if self.request is not None else "unknown"
            key = f"{ratelimit.normalize_email(email)} from {client}"
            try:
                attempt = ratelimit.record([(ratelimit.LOGIN_FAILURE, key)])
            except ratelimit.RateLimited as refusal:
                self.rate_limited = refusal
                raise forms.ValidationError(refusal.message(), code="rate_limited") from refusal
            user = user_for_email(email)
            if user is not None and not user.is_active and user.check_password(password):
                ratelimit.forget(attempt)  # The right password: not a failure.
                if not awaits_activation(user):
                    raise forms.ValidationError(DEACTIVATED_MESSAGE, code="deactivated")
                self.inactive_email = user.email
                raise forms.ValidationError(
                    self.error_messages["inactive"], code="inactive",
                    params={"email": user.email},
                )
            username = user.get_username() if user is not None else email
            self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            ratelimit.forget(attempt)  # A success does not count.
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ResendActivationForm(forms.Form):
    """The address of an account that awaits activation."""

    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class SiteUrlPasswordResetForm(PasswordResetForm):
    """Django's reset form; its e-mail links to ``SITE_URL``, not the request's host."""

    def send_mail(self, subject_template_name: str, email_template_name: str,
                  context: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        path = reverse(
            "accounts:password_reset_confirm",
            kwargs={"uidb64": context["uid"], "token": context["token"]},
        )
        context = {**context, "link": site_link(path)}
        super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)


class TokenCreateForm(forms.Form):
    """The name of a new API token (what it is for)."""

    name = forms.CharField(
        label="Name of a new token",
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. 'laptop' or 'cluster'.",
    )


class FlagForm(forms.Form):
    """The state a switch of one's model is set to (sent by its button)."""

    value = forms.TypedChoiceField(
        choices=[("true", "on"), ("false", "off")], coerce=lambda value: value == "true"
    )


class DeleteAccountForm(forms.Form):
    """The account's password, so a forgotten open session cannot delete it."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("The password is wrong; nothing was deleted.")
        return password
