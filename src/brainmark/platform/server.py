"""``brainmark serve``: the site under gunicorn on one address, and nothing else.

The listening socket is bound here, before gunicorn starts, so a port in use is one clear
error (not gunicorn's five retries) and ``--port 0`` can pick a free port; gunicorn takes
the bound socket over (``fd://``). Workers are gunicorn's ``gthread`` workers (processes
with a few threads each, all synchronous Django). The access log and gunicorn's own log
go to stderr, so stdout holds only the address, printed once the socket listens and the
application is loaded.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from brainmark.exceptions import BrainmarkError

# Every logger to stderr: gunicorn's access and error logs, Django's (through the root).
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
        },
    },
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
    },
}


class ServeError(BrainmarkError, OSError):
    """The site cannot listen on the address asked for."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one), inheritable by workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family, backlog=2048)
    except socket.gaierror as error:
        raise ServeError(f"Cannot listen on host {host!r}: {error.strerror}.") from error
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ServeError(
                f"Port {port} on {host} is already in use (another 'brainmark serve'?). "
                f"Stop that server or choose another port with --port."
            ) from error
        if error.errno == errno.EACCES:
            raise ServeError(
                f"Not allowed to listen on port {port} of {host}; ports below 1024 need "
                f"privileges. Choose another port with --port."
            ) from error
        raise ServeError(f"Cannot listen on {host}:{port}: {error.strerror}.") from error
    listener.set_inheritable(True)
    return listener


def address_of(listener: socket.socket) -> str:
    """The ``http://host:port`` a listening socket answers at."""
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SiteServer(BaseApplication):
    """gunicorn serving the platform's WSGI application on an already bound socket."""

    def __init__(
        self,
        listener: socket.socket,
        *,
        workers: int,
        threads: int,
        on_ready: Callable[[str], None],
    ) -> None:
        self.listener = listener
        self.workers = workers
        self.threads = threads
        self.on_ready = on_ready
        super().__init__(prog="brainmark serve")

    def load_config(self) -> None:
        address = address_of(self.listener)

        def when_ready(_arbiter: Any) -> None:
            self.on_ready(address)

        options = {
            "bind": [f"fd://{self.listener.fileno()}"],
            "worker_class": "gthread",
            "workers": self.workers,
            "threads": self.threads,
            # The application (Django) loads once, in the master, before workers fork.
            "preload_app": True,
            "logconfig_dict": LOGGING,
            "proc_name": "brainmark-serve",
            "graceful_timeout": 10,
            # gunicorn's control socket would live outside BRAINMARK_HOME, one per user.
            "control_socket_disable": True,
            "when_ready": when_ready,
        }
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable[..., Any]:
        from django.core.wsgi import get_wsgi_application
        from django.db import connections

        application = get_wsgi_application()
        # Forked workers must not share the master's database connections.
        connections.close_all()
        return application


def serve_site(
    host: str, port: int, *, workers: int, threads: int, on_ready: Callable[[str], None]
) -> None:
    """Serve the site on ``host:port`` until stopped (SIGINT or SIGTERM: a graceful stop).

    Django must be set up. ``on_ready`` gets the address once requests are answered.
    """
    from django.db import connections

    listener = bind_listener(host, port)
    connections.close_all()
    SiteServer(listener, workers=workers, threads=threads, on_ready=on_ready).run()
