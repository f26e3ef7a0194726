"""Every error brainmark raises on purpose, in one place.

Each message says what is wrong, where, and what to do about it. The classes also inherit
from the matching builtin (``ValueError``, ``KeyError``, ...) so callers that already catch
those keep working.
"""

from __future__ import annotations


class BrainmarkError(Exception):
    """Base class of every error raised by brainmark on purpose."""


class ValidationError(BrainmarkError, ValueError):
    """Input data (a stimulus set, an assembly, a parameter) breaks a data standard."""


class ChecksumMismatchError(BrainmarkError, OSError):
    """A file's SHA1 differs from the one it was packaged with."""


class StoreError(BrainmarkError, OSError):
    """An object store could not upload or download an object."""


class UnknownPluginError(BrainmarkError, KeyError):
    """No plugin registers the requested identifier."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class DuplicateRegistrationError(BrainmarkError):
    """Two plugin folders register the same identifier."""


class PluginIndexError(BrainmarkError):
    """A plugin's ``__init__.py`` cannot be indexed (syntax error, computed identifier)."""


class MissingDependencyError(BrainmarkError, ImportError):
    """A plugin needs a package that is not installed; loading never installs it."""


class SettingsError(BrainmarkError, ValueError):
    """A setting has an invalid value or an unknown name."""


class ModelError(BrainmarkError, RuntimeError):
    """A model failed while looking at stimuli or has no such layer."""


class MetricError(BrainmarkError, ValueError):
    """A metric cannot be computed on the given assemblies."""


class BenchmarkError(BrainmarkError, RuntimeError):
    """A benchmark could not score a model."""


class CacheIntegrityWarning(UserWarning):
    """A cached derived file failed its check when read; it is recomputed."""


class PluginImportError(BrainmarkError, ImportError):
    """A plugin folder's code raised while it was being imported."""


class ImageTooLargeError(ValidationError):
    """A stimulus image is over the decoding pixel budget and cannot be reduced to fit it."""
