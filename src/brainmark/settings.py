"""One settings object; the only module that reads ``os.environ``.

Every path brainmark writes derives from ``home`` (``BRAINMARK_HOME``, default
``~/.brainmark``). A field ``foo`` is overridden by the environment variable
``BRAINMARK_FOO`` and nothing else (one exception: ``database_url`` also accepts the
ecosystem's plain ``DATABASE_URL``, which ``BRAINMARK_DATABASE_URL`` overrides); inside a
process, ``override_settings(foo=...)`` changes it for the duration of a ``with`` block
(tests and ``--no-cache`` use this). Reading the settings creates no folders: the code
that writes a folder creates it.

Overrides are held in a :class:`contextvars.ContextVar`, so each thread and each asyncio task
sees only its own: two scores computed at once in threads of one worker, each under its
own ``override_settings(home=...)``, never see the other's home. A new thread starts
without the overrides of the thread that started it; to run work in another thread under
the caller's overrides, run it through the caller's context, e.g.
``executor.submit(contextvars.copy_context().run, function, *args)`` (``asyncio.to_thread``
does this already).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import ipaddress
import os
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from brainmark.exceptions import SettingsError

ENV_PREFIX = "BRAINMARK_"
# The one variable read outside BRAINMARK_*: the database address, as hosting platforms
# and CI services set it. BRAINMARK_DATABASE_URL wins when both are set.
# It is checked only by the platform (brainmark.platform.configuration): a DATABASE_URL
# meant for another program must not stop the library from scoring.
DATABASE_URL_VARIABLE = "DATABASE_URL"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated settings; see the ``metadata['help']`` of each field for why it exists."""

    home: Path = dataclasses.field(
        default=Path("~/.brainmark"),
        metadata={"help": "Root of every file brainmark writes: caches, the local store."},
    )
    plugin_path: tuple[Path, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "Extra plugin roots (os.pathsep-separated), searched after the built-in "
            "plugins; the platform's plugin store is one of them."
        },
    )
    store: str = dataclasses.field(
        default="",
        metadata={
            "help": "Default object store location (file://..., s3://bucket/prefix); empty "
            "means the folder 'store' under home."
        },
    )
    s3_endpoint_url: str = dataclasses.field(
        default="",
        metadata={"help": "Endpoint of an S3-compatible server; empty means AWS."},
    )
    device: str = dataclasses.field(
        default="auto",
        metadata={"help": "Torch device for models: 'auto' (cuda when present), 'cpu', 'cuda'."},
    )
    num_workers: int = dataclasses.field(
        default=-1,
        metadata={
            "help": "Image decoding: -1, threads in the process, as many as torch uses (at "
            "most 8); 0, the calling thread; N, N worker processes."
        },
    )
    batch_size: int = dataclasses.field(
        default=64,
        metadata={"help": "Images per forward pass when extracting activations."},
    )
    max_image_pixels: int = dataclasses.field(
        default=25_000_000,
        metadata={
            "help": "Pixel budget for decoding one stimulus image: larger images are reduced "
            "while decoding (or refused when their format cannot be), so one huge image "
            "cannot take gigabytes of memory."
        },
    )
    reuse_cache: bool = dataclasses.field(
        default=True,
        metadata={
            "help": "Reuse derived files (activations, placed images, ceilings, layer maps, "
            "results) from the cache; false recomputes them all (what --no-cache sets)."
        },
    )
    debug: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "Show full tracebacks for expected errors in the CLI, and turn on "
            "Django's DEBUG in the platform (never in production)."
        },
    )
    database_url: str = dataclasses.field(
        default="",
        repr=False,  # May hold a password.
        metadata={
            "help": "The platform's database: postgresql://user:password@host:port/name or "
            "sqlite:////absolute/path; empty means the SQLite file under home. Also read "
            "from the plain DATABASE_URL, the one variable read outside BRAINMARK_*."
        },
    )
    secret_key: str = dataclasses.field(
        default="",
        repr=False,
        metadata={
            "help": "The platform's secret key (signs sessions and tokens); empty means a key "
            "generated once into a file under home (mode 0600) and reused."
        },
    )
    allowed_hosts: tuple[str, ...] = dataclasses.field(
        default=("localhost", "127.0.0.1", "[::1]"),
        metadata={
            "help": "Host names the platform answers to (comma-separated), Django's "
            "ALLOWED_HOSTS."
        },
    )

    trusted_proxies: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "Addresses or networks of the proxies in front of the platform "
            "(comma-separated, e.g. 127.0.0.1,::1 behind a local nginx): only from them is "
            "X-Forwarded-For believed for a client's address (rate limits); empty trusts none."
        },
    )
    site_url: str = dataclasses.field(
        default="http://127.0.0.1:8000",
        metadata={"help": "The site's address as users reach it, used in links of e-mails."},
    )
    email_from: str = dataclasses.field(
        default="brainmark <noreply@localhost>",
        metadata={"help": "The sender of the platform's e-mails."},
    )
    smtp_host: str = dataclasses.field(
        default="",
        metadata={
            "help": "SMTP server for the platform's e-mails; empty means e-mails are written "
            "as files into the outbox under home."
        },
    )
    smtp_port: int = dataclasses.field(default=587, metadata={"help": "SMTP server port."})
    smtp_user: str = dataclasses.field(default="", metadata={"help": "SMTP user name."})
    smtp_password: str = dataclasses.field(
        default="", repr=False, metadata={"help": "SMTP password."}
    )
    smtp_tls: bool = dataclasses.field(
        default=True, metadata={"help": "Use STARTTLS with the SMTP server."}
    )
    upload_quota_bytes: int = dataclasses.field(
        default=5_000_000_000,
        metadata={"help": "Bytes each user may store through the site's data upload."},
    )
    git_url_schemes: tuple[str, ...] = dataclasses.field(
        default=("https",),
        metadata={
            "help": "URL schemes a git submission may be fetched over (comma-separated, among "
            "https, http, ssh, git and file); 'file' lets a user read the server's own "
            "repositories, so only tests add it."
        },
    )
    webhook_secret: str = dataclasses.field(
        default="",
        repr=False,
        metadata={
            "help": "The shared secret code hosts sign webhook deliveries with (HMAC-SHA256, "
            "at least 16 characters); empty turns the git webhook off."
        },
    )
    webhook_user: str = dataclasses.field(
        default="",
        metadata={
            "help": "E-mail address of the platform account that owns webhook submissions: "
            "every repository pointing at the webhook submits as that account."
        },
    )
    commit_status_url: str = dataclasses.field(
        default="",
        metadata={
            "help": "Where a webhook submission's result is reported, with {repository} (the "
            "owner/name) and {sha}, e.g. https://api.github.com/repos/{repository}/statuses/"
            "{sha}; empty reports nothing."
        },
    )
    commit_status_token: str = dataclasses.field(
        default="",
        repr=False,
        metadata={
            "help": "Token sent as 'Authorization: Bearer' with commit statuses, only to the "
            "host of commit_status_url."
        },
    )
    dispatcher_executor: str = dataclasses.field(
        default="local",
        metadata={
            "help": "Where `brainmark dispatcher` runs scoring jobs: 'local' (subprocess slots "
            "on this machine) or 'dask' (the workers of dask_scheduler)."
        },
    )
    dispatcher_slots: int = dataclasses.field(
        default=1,
        metadata={"help": "Jobs the local executor runs at once (each in its own sandbox)."},
    )
    dispatcher_stage_slots: int = dataclasses.field(
        default=2,
        metadata={
            "help": "Submission stages (sandboxed tests, merge, reading facts) one dispatcher "
            "runs at once, beside its jobs; merges still run one at a time."
        },
    )
    dask_scheduler: str = dataclasses.field(
        default="",
        metadata={"help": "The Dask scheduler's address (tcp://host:8786) for the dask executor."},
    )
    job_wall_seconds: int = dataclasses.field(
        default=6 * 3600,
        metadata={"help": "Wall-clock limit of one scoring job; a job over it is killed."},
    )
    job_memory_bytes: int = dataclasses.field(
        default=16 * 1024**3,
        metadata={
            "help": "Memory limit of one scoring job; a job that runs out of it is retried "
            "once with four times as much."
        },
    )
    url: str = dataclasses.field(
        default="http://127.0.0.1:8000",
        metadata={
            "help": "The platform 'brainmark submit' and other client commands talk to "
            "(http:// or https://)."
        },
    )
    token: str = dataclasses.field(
        default="",
        repr=False,  # A credential: never printed.
        metadata={
            "help": "The API token client commands send; empty means the file token_path "
            "names (mode 0600)."
        },
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser().absolute())
        object.__setattr__(
            self, "plugin_path", tuple(Path(p).expanduser().absolute() for p in self.plugin_path)
        )
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise SettingsError(
                f"Setting 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N'. Got {self.device!r}."
            )
        if not 0 < self.smtp_port < 65536:
            raise SettingsError(f"Setting 'smtp_port' must be 1-65535. Got {self.smtp_port}.")
        if self.upload_quota_bytes < 0:
            raise SettingsError(
                f"Setting 'upload_quota_bytes' must be >= 0. Got {self.upload_quota_bytes}."
            )
        if not self.url.startswith(("http://", "https://")):
            raise SettingsError(
                f"Setting 'url' must start with http:// or https://. Got {self.url!r}."
            )
        if self.batch_size < 1:
            raise SettingsError(f"Setting 'batch_size' must be >= 1. Got {self.batch_size}.")
        hosts = tuple(host.strip() for host in self.allowed_hosts if host.strip())
        object.__setattr__(self, "allowed_hosts", hosts)
        proxies = tuple(proxy.strip() for proxy in self.trusted_proxies if proxy.strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"Setting 'trusted_proxies' holds {proxy!r}, which is not an IP address "
                    f"or network (e.g. 127.0.0.1, ::1, 10.0.0.0/8)."
                ) from None
        object.__setattr__(self, "trusted_proxies", proxies)
        _check_git_settings(self)
        if self.num_workers < -1:
            raise SettingsError(
                f"Setting 'num_workers' must be -1 (one per CPU), 0 (decode in the main "
                f"process) or a positive number of processes. Got {self.num_workers}."
            )

    # Every path under home is decided here and nowhere else (docs/architecture.md lists
    # them with what each file is keyed by).
    @property
    def cache_dir(self) -> Path:
        """Derived files, all recomputable: deleting this folder loses no data."""
        return self.home / "cache"

    @property
    def data_cache_dir(self) -> Path:
        """Data files fetched from stores, one folder per file SHA1."""
        return self.cache_dir / "data"

    @property
    def activations_dir(self) -> Path:
        return self.cache_dir / "activations"

    @property
    def placed_dir(self) -> Path:
        """Stimuli placed at a model's visual degrees."""
        return self.cache_dir / "placed"

    @property
    def ceilings_dir(self) -> Path:
        return self.cache_dir / "ceilings"

    @property
    def layer_maps_dir(self) -> Path:
        """Region -> layer maps chosen by layer selection."""
        return self.cache_dir / "region_layer_maps"

    @property
    def plugin_index_path(self) -> Path:
        return self.cache_dir / "plugin_index.json"

    @property
    def plugin_facts_dir(self) -> Path:
        """What ``brainmark sync`` read from the plugins, keyed by their code and versions."""
        return self.cache_dir / "plugin_facts"

    @property
    def results_dir(self) -> Path:
        """Score records of local runs."""
        return self.home / "results"

    @property
    def packages_dir(self) -> Path:
        """Output of ``package_*_locally`` when no folder is given."""
        return self.home / "packages"

    @property
    def store_dir(self) -> Path:
        """The embedded object store (the default of the ``store`` setting)."""
        return self.home / "store"

    @property
    def database_path(self) -> Path:
        """The platform's embedded SQLite database."""
        return self.home / "platform" / "brainmark.sqlite3"

    @property
    def secret_key_path(self) -> Path:
        """The platform's generated secret key (mode 0600), when ``secret_key`` is not set."""
        return self.home / "platform" / "secret_key"

    @property
    def static_root(self) -> Path:
        """The site's collected static files (``brainmark manage collectstatic``)."""
        return self.home / "platform" / "static"

    @property
    def outbox_dir(self) -> Path:
        """E-mails the platform sends, as files (the embedded default)."""
        return self.home / "platform" / "outbox"

    @property
    def plugin_store_dir(self) -> Path:
        """The platform's git repository of accepted plugins (a plugin root)."""
        return self.home / "platform" / "plugins"

    @property
    def token_path(self) -> Path:
        """Where client commands read the API token when ``token`` is not set (mode 0600):
        ``$XDG_CONFIG_HOME/brainmark/token``, or ``~/.config/brainmark/token``."""
        config = os.environ.get("XDG_CONFIG_HOME", "").strip()
        return (Path(config) if config else Path("~/.config").expanduser()) / "brainmark" / "token"

    @property
    def store_location(self) -> str:
        return self.store or self.store_dir.as_uri()

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``BRAINMARK_<FIELD>`` variables.

        Unknown names are an error, and so are known names spelled in another case
        (``BRAINMARK_home``), which would otherwise be ignored without a word.
        """
        environ = dict(os.environ if environ is None else environ)
        fields = {field.name: field for field in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for key, raw in environ.items():
            if not key.upper().startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name not in fields:
                raise SettingsError(
                    f"Environment variable {key} names no brainmark setting. "
                    f"Known settings: {', '.join(ENV_PREFIX + n.upper() for n in fields)}."
                )
            if key != key.upper():
                raise SettingsError(
                    f"Environment variable {key} is not spelled in upper case, so brainmark "
                    f"does not read it. Rename it to {key.upper()}."
                )
            values[name] = _parse(fields[name], raw, key)
        if "database_url" not in values and environ.get(DATABASE_URL_VARIABLE):
            values["database_url"] = environ[DATABASE_URL_VARIABLE].strip()
        return cls(**values)


def _parse(field: dataclasses.Field, raw: str, key: str) -> object:
    if field.name == "plugin_path":
        return tuple(Path(part) for part in raw.split(os.pathsep) if part)
    if field.name in ("allowed_hosts", "trusted_proxies", "git_url_schemes"):  # comma lists
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if field.type in ("bool", bool):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key} must be true or false (1/0, yes/no). Got {raw!r}.")
    if field.type in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key} must be an integer. Got {raw!r}.") from None
    if field.name == "home":
        if not raw.strip():
            raise SettingsError(
                f"{key} is set but empty, which would put brainmark's files in the current "
                f"folder. Set it to a folder (e.g. ~/.brainmark) or unset it to use the "
                f"default."
            )
        return Path(raw)
    return raw


GIT_URL_SCHEMES = ("https", "http", "ssh", "git", "file")
MIN_WEBHOOK_SECRET_LENGTH = 16


def _check_git_settings(settings: Settings) -> None:
    """The git submission settings: known schemes, a long enough secret, a usable template."""
    schemes = tuple(scheme.strip().lower() for scheme in settings.git_url_schemes
                    if scheme.strip())
    unknown = [scheme for scheme in schemes if scheme not in GIT_URL_SCHEMES]
    if unknown:
        raise SettingsError(
            f"Setting 'git_url_schemes' holds {', '.join(map(repr, unknown))}; the schemes "
            f"git submissions may use are {', '.join(GIT_URL_SCHEMES)}."
        )
    object.__setattr__(settings, "git_url_schemes", schemes)
    if settings.webhook_secret and len(settings.webhook_secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise SettingsError(
            f"Setting 'webhook_secret' is {len(settings.webhook_secret)} characters long; use "
            f"at least {MIN_WEBHOOK_SECRET_LENGTH} random characters (e.g. 'openssl rand -hex "
            f"32'), since anyone who guesses it can submit as the webhook's account."
        )
    template = settings.commit_status_url
    if template:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        if not template.startswith(("https://", "http://")) or fields - {"repository", "sha"}:
            raise SettingsError(
                f"Setting 'commit_status_url' must be an http(s) address whose only "
                f"placeholders are {{repository}} and {{sha}}. Got {template!r}."
            )


def check_home_writable(settings: Settings | None = None) -> None:
    """Refuse up front a home folder brainmark could not write to.

    Without this, a long run would fail at its first cache write, minutes in. A home that
    does not exist yet is checked through its nearest existing ancestor, where it would be
    created; nothing is created here.
    """
    home = (settings or get_settings()).home
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = "Set BRAINMARK_HOME to a folder you can write to"
    if not existing.is_dir():
        if existing == home:
            raise SettingsError(f"The brainmark home {home} is a file, not a folder. {fix}.")
        raise SettingsError(
            f"The brainmark home {home} cannot be created: {existing} is a file, not a "
            f"folder. {fix}."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == home else f" (its nearest existing folder {existing} is not)"
        raise SettingsError(
            f"The brainmark home {home} is not writable{where}; brainmark writes its caches "
            f"and results there. {fix}, or fix the permissions of {existing}."
        )


# The changes of every active override_settings block of this context, merged (inner wins).
_overrides: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "brainmark_settings_overrides", default=MappingProxyType({})
)


def get_settings() -> Settings:
    """The settings in force: the environment, then this context's ``override_settings``."""
    settings = Settings.from_environ()
    overrides = _overrides.get()
    return dataclasses.replace(settings, **overrides) if overrides else settings


@contextlib.contextmanager
def override_settings(**changes: object) -> Iterator[Settings]:
    """Change settings inside a ``with`` block, for this thread or asyncio task only.

    Unknown names are refused up front. Threads started inside the block do not see the
    changes unless run through :func:`contextvars.copy_context` (see the module docstring).
    """
    known = {field.name for field in dataclasses.fields(Settings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise SettingsError(
            f"Unknown setting(s) {unknown}. Known settings: {sorted(known)}."
        )
    token = _overrides.set(MappingProxyType({**_overrides.get(), **changes}))
    try:
        yield get_settings()
    finally:
        _overrides.reset(token)
