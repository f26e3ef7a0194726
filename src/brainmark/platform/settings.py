"""Django settings of the platform, derived from :func:`brainmark.settings.get_settings`.

Nothing here reads the environment: every value comes from brainmark's settings
(``BRAINMARK_*``, and ``DATABASE_URL`` for the database), so the production site, a staging
copy and the test suite differ by their environment alone. Defaults are the embedded ones:
the SQLite file under home, a secret key generated once under home, e-mails written as
files into the outbox. :mod:`brainmark.platform.settings_production` adds what a public
HTTPS deployment needs.
"""

from __future__ import annotations

from brainmark.platform.configuration import database_settings, load_or_create_secret_key
from brainmark.settings import get_settings

BRAINMARK_SETTINGS = get_settings()

SECRET_KEY = BRAINMARK_SETTINGS.secret_key or load_or_create_secret_key(
    BRAINMARK_SETTINGS.secret_key_path
)
DEBUG = BRAINMARK_SETTINGS.debug
ALLOWED_HOSTS = list(BRAINMARK_SETTINGS.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "brainmark.platform.site",
    "brainmark.platform.accounts",
    "brainmark.platform.leaderboard",
    "brainmark.platform.submissions",
    "brainmark.platform.uploads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, which answers static files without calling what follows it.
    "brainmark.platform.site.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Said explicitly (they are Django's defaults): browsers must not guess content types, and
# other sites are told only the origin of a link followed from here.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "brainmark.platform.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "brainmark.platform.site.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": database_settings(
        BRAINMARK_SETTINGS.database_url, BRAINMARK_SETTINGS.database_path
    ),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2 (memory-hard) for new and changed passwords; the others still check older hashes,
# which Django upgrades to Argon2 at the next successful log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = str(BRAINMARK_SETTINGS.static_root)
# Served by WhiteNoise from the apps' static folders too, so `brainmark serve` needs no
# collectstatic step; production collects them (docs/deploy.md).
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "leaderboard:home"
SITE_URL = BRAINMARK_SETTINGS.site_url.rstrip("/")

# E-mail: SMTP when a server is configured, else files in the outbox under home.
DEFAULT_FROM_EMAIL = SERVER_EMAIL = BRAINMARK_SETTINGS.email_from
if BRAINMARK_SETTINGS.smtp_host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = BRAINMARK_SETTINGS.smtp_host
    EMAIL_PORT = BRAINMARK_SETTINGS.smtp_port
    EMAIL_HOST_USER = BRAINMARK_SETTINGS.smtp_user
    EMAIL_HOST_PASSWORD = BRAINMARK_SETTINGS.smtp_password
    EMAIL_USE_TLS = BRAINMARK_SETTINGS.smtp_tls
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BRAINMARK_SETTINGS.outbox_dir)

BRAINMARK_UPLOAD_QUOTA_BYTES = BRAINMARK_SETTINGS.upload_quota_bytes
BRAINMARK_TRUSTED_PROXIES = BRAINMARK_SETTINGS.trusted_proxies
