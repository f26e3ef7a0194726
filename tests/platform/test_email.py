"""The platform's e-mail over real SMTP: an aiosmtpd server on loopback receives the mails.

The sign-up's activation mail goes through Django's SMTP backend to the server, and its link
activates the account; a server that is down or refuses the mail leaves no account behind;
``BRAINMARK_SMTP_HOST`` alone makes a fresh process send through SMTP.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

SITE_URL = "https://brainmark.example.org"
PASSWORD = "correct horse battery staple"
REFUSED_RECIPIENT = "refused@example.org"


@dataclass
class Received:
    """One message the server accepted: envelope sender, recipients, and the parsed mail."""

    sender: str
    recipients: list[str]
    message: email.message.EmailMessage


@dataclass
class RecordingHandler:
    """aiosmtpd handler keeping every accepted message; refuses mail to REFUSED_RECIPIENT."""

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address == REFUSED_RECIPIENT:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, RecordingHandler]]:
    """An SMTP server on 127.0.0.1 at a free port: ``(port, handler)``."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def _smtp_settings(port: int):
    from django.test import override_settings

    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=10,
        SITE_URL=SITE_URL,
        DEFAULT_FROM_EMAIL="brainmark <noreply@brainmark.example.org>",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )


def _sign_up(email_address: str):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    response = client.post(
        "/accounts/signup/",
        {"email": email_address, "password1": PASSWORD, "password2": PASSWORD},
    )
    return client, response


@pytest.mark.db
def test_the_activation_mail_arrives_over_smtp_and_its_link_works(database, smtp_server):
    from django.contrib.auth import get_user_model

    port, handler = smtp_server
    with _smtp_settings(port):
        client, response = _sign_up("ada@example.org")
        assert response.status_code == 302, response.content

        [received] = handler.received
        assert received.sender == "noreply@brainmark.example.org"
        assert received.recipients == ["ada@example.org"]
        assert received.message["To"] == "ada@example.org"
        assert "Activate" in received.message["Subject"]
        body = received.message.get_body(preferencelist=("plain",)).get_content()
        links = re.findall(re.escape(SITE_URL) + r"(/accounts/activate/[^\s]+/)", body)
        assert "/accounts/activate/again/" in links  # For an expired link.
        [path] = [link for link in links if link != "/accounts/activate/again/"]

        assert not get_user_model().objects.get(username="ada@example.org").is_active
        activated = client.get(path)
        assert activated.status_code == 302 and activated.url == "/accounts/profile/"
        assert get_user_model().objects.get(username="ada@example.org").is_active
        assert client.session["_auth_user_id"] == str(
            get_user_model().objects.get(username="ada@example.org").pk
        )


@pytest.mark.db
def test_a_mail_server_that_is_down_or_refuses_leaves_no_account(database, smtp_server):
    from django.contrib.auth import get_user_model

    port, handler = smtp_server
    with _smtp_settings(port):
        _, refused = _sign_up(REFUSED_RECIPIENT)
    with _smtp_settings(_free_port()):  # Nothing listens there.
        _, down = _sign_up("grace@example.org")
    for response, address in ((refused, REFUSED_RECIPIENT), (down, "grace@example.org")):
        assert response.status_code == 200
        text = response.content.decode()
        assert f"The activation e-mail to {address} could not be sent" in text
        assert "no account was created" in text
    assert not get_user_model().objects.exists()
    assert handler.received == []


def test_brainmark_smtp_host_makes_a_fresh_process_send_over_smtp(
    smtp_server, sqlite_environment, run_brainmark
):
    port, handler = smtp_server
    env = {
        **sqlite_environment,
        "BRAINMARK_SMTP_HOST": "127.0.0.1",
        "BRAINMARK_SMTP_PORT": str(port),
        "BRAINMARK_SMTP_TLS": "false",
        "BRAINMARK_EMAIL_FROM": "brainmark staging <staging@example.org>",
    }
    code = (
        "from django.conf import settings; from django.core.mail import send_mail; "
        "print(settings.EMAIL_BACKEND); "
        "send_mail('Hello', 'Sent by the settings alone.', None, ['ada@example.org'])"
    )
    result = run_brainmark("manage", "shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.mail.backends.smtp.EmailBackend"
    [received] = handler.received
    assert received.sender == "staging@example.org"
    assert received.recipients == ["ada@example.org"]
    assert received.message["Subject"] == "Hello"
    assert received.message.get_content().strip() == "Sent by the settings alone."
