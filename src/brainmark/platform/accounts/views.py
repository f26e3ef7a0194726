"""The accounts pages: sign-up and activation, log in/out, the profile, deleting an account.

Views are thin: forms check the input, :mod:`brainmark.platform.accounts.services` does the
work. Every change is a POST with a CSRF token, and acts only on the user's own rows.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from brainmark.platform.accounts import ratelimit
from brainmark.platform.accounts.forms import (
    DeleteAccountForm,
    EmailAuthenticationForm,
    FlagForm,
    ResendActivationForm,
    SignupForm,
    SiteUrlPasswordResetForm,
    TokenCreateForm,
)
from brainmark.platform.accounts.models import ApiToken
from brainmark.platform.accounts.services import (
    AccountError,
    activate_user,
    create_token_for_user,
    delete_account,
    delete_stale_signups,
    resend_activation_email,
    set_model_flags,
    sign_up,
    site_link,
    unactivated_days,
)
from brainmark.platform.leaderboard.models import Model

# The address a sign-up was sent to, shown on the "check your mail" page after the redirect.
SIGNUP_EMAIL_SESSION_KEY = "accounts_signup_email"


def signup(request: HttpRequest) -> HttpResponse:
    """E-mail and password; an inactive account is created and its activation link mailed."""
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    if request.method == "POST":
        # Before the form's check, so an address whose sign-up expired is free again.
        delete_stale_signups()
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        refused = _rate_limited(request, data["email"], ratelimit.SIGNUP_IP)
        if refused is not None:
            return refused
        try:
            user = sign_up(data["email"], data["password1"], data["password2"])
        except AccountError as error:
            form.add_error(None, str(error))
        else:
            request.session[SIGNUP_EMAIL_SESSION_KEY] = user.email
            return redirect("accounts:signup_done")
    context = {"form": form, "unactivated_days": unactivated_days()}
    return render(request, "accounts/signup.html", context)


def signup_done(request: HttpRequest) -> HttpResponse:
    """Tells where the activation e-mail went and what to do with it."""
    email = request.session.get(SIGNUP_EMAIL_SESSION_KEY)
    return render(request, "accounts/signup_done.html", {"email": email})


def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The activation link: activates the account and logs its user in."""
    user = activate_user(uidb64, token)
    if user is None:
        return render(request, "accounts/activation_invalid.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(SIGNUP_EMAIL_SESSION_KEY, None)
    messages.success(request, f"Your account {user.email} is active and you are logged in.")
    return redirect("accounts:profile")


def resend_activation(request: HttpRequest) -> HttpResponse:
    """Sends the activation e-mail again; says the same whether the address is known or not."""
    form = ResendActivationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # Counted whether or not the address has an account, so the answer reveals nothing.
        refused = _rate_limited(request, email, ratelimit.RESEND_ACTIVATION_IP)
        if refused is not None:
            return refused
        try:
            resend_activation_email(email)
        except OSError as error:
            form.add_error(None, f"The e-mail could not be sent ({error}); try again later.")
        else:
            messages.success(
                request,
                f"If an account with {email} awaits activation, a new activation link is on "
                f"its way to that address. Earlier links stop working once it is used.",
            )
            return redirect("accounts:login")
    return render(request, "accounts/activation_resend.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Log in by e-mail and password (inactive accounts are told to activate)."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: EmailAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.rate_limited is not None:  # Too many failures: refused, whatever the password.
            response.status_code = 429
            response["Retry-After"] = str(form.rate_limited.retry_after_seconds())
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for the e-mail address; the mail links to ``SITE_URL``."""

    template_name = "accounts/password_reset_form.html"
    form_class = SiteUrlPasswordResetForm
    email_template_name = "accounts/email/password_reset_body.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: SiteUrlPasswordResetForm) -> HttpResponse:
        # Counted whether or not the address has an account, so the answer reveals nothing.
        refused = _rate_limited(self.request, form.cleaned_data["email"],
                                ratelimit.PASSWORD_RESET_IP)
        if refused is not None:
            return refused
        self.extra_email_context = {"site_url": site_link("")}
        return super().form_valid(form)


def _rate_limited(request: HttpRequest, email: str, ip_kind: str) -> HttpResponse | None:
    """Count a mail asked for to ``email`` from this client (limit ``ip_kind`` per client
    address); None when allowed, else the 429 page saying what is limited and until when."""
    attempts = [
        (ratelimit.MAIL_TO_ADDRESS, ratelimit.normalize_email(email)),
        (ip_kind, ratelimit.client_ip(request)),
    ]
    try:
        ratelimit.record(attempts)
    except ratelimit.RateLimited as refusal:
        response = render(
            request,
            "accounts/rate_limited.html",
            {"refusal": refusal, "back": request.path},
            status=429,
        )
        response["Retry-After"] = str(refusal.retry_after_seconds())
        return response
    return None


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The reset link: a new password, twice (or a clear page when the link is invalid)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """A logged-in user changes their password (the session stays logged in)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")
    success_message = "Your password was changed."


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's models, submissions, data uploads and API tokens."""
    return render(request, "accounts/profile.html", _profile_context(request))


def _profile_context(request: HttpRequest, **extra: object) -> dict[str, object]:
    user = request.user
    return {
        "models": Model.objects.filter(owner=user).order_by("identifier"),
        "submissions": user.submissions.order_by("-created"),
        "data_packages": user.data_packages.order_by("-created"),
        "tokens": user.api_tokens.order_by("revoked", "-created"),
        "token_form": TokenCreateForm(),
        **extra,
    }


@login_required
@require_POST
def model_flag(request: HttpRequest, pk: int, flag: str) -> HttpResponse:
    """Switch one of the user's models public/private, or withdrawn/listed (owner only)."""
    model = get_object_or_404(Model, pk=pk, owner=request.user)  # Others' models: 404.
    form = FlagForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Send value=true or value=false.")
    value = form.cleaned_data["value"]
    set_model_flags(model, **{flag: value})
    if flag == "public":
        state = "public" if value else "private: only you and the staff see its scores"
    else:
        state = "withdrawn from the leaderboard" if value else "back on the leaderboard"
    messages.success(request, f"{model.identifier} is now {state}.")
    return redirect("accounts:profile")


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create an API token and show its clear value, this once (never stored, no redirect)."""
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            token, clear_token = create_token_for_user(request.user, form.cleaned_data["name"])
        except AccountError as error:
            form.add_error("name", str(error))
        else:
            response = render(
                request, "accounts/token_created.html", {"token": token, "clear_token": clear_token}
            )
            response["Cache-Control"] = "no-store"  # The clear token must not be cached.
            return response
    context = _profile_context(request, token_form=form)
    return render(request, "accounts/profile.html", context, status=400)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens (others' tokens: 404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    messages.success(request, f"The token '{token.name}' is revoked; it no longer works.")
    return redirect("accounts:profile")


@login_required
def delete(request: HttpRequest) -> HttpResponse:
    """Explains what deleting the account removes and keeps; deletes it on the password."""
    user = request.user
    form = DeleteAccountForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = user.email
        deleted = delete_account(user)
        logout(request)
        messages.success(
            request,
            f"The account {email} is deleted, with {deleted.models} model(s), "
            f"{deleted.submissions} submission(s) and {deleted.tokens} API token(s). "
            f"{deleted.data_packages_kept} data upload(s) stay in the store without an owner.",
        )
        return redirect("/")
    context = {
        "form": form,
        "models": Model.objects.filter(owner=user).order_by("identifier"),
        "submission_count": user.submissions.count(),
        "token_count": user.api_tokens.count(),
        "data_package_count": user.data_packages.count(),
    }
    return render(request, "accounts/delete.html", context)
