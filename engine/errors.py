"""The project's one error family.

Every error the project raises for a person to read derives from :class:`OmfaError`: its ``str()`` is a
message a person can act on (one line, no class name), ``field`` names the request/setting field at fault,
``path`` the file or folder, and ``hint`` what to do about it. A UI recognises them with ``isinstance``;
anything else reaching the top is a bug and is shown with its class name and logged with its traceback.
Concrete errors keep their builtin base too (``ImageError`` is still a ``ValueError``) so ``except
ValueError`` callers keep working.
"""
from __future__ import annotations


class OmfaError(Exception):
    """An error with a message for people.

    Parameters
    ----------
    message : the sentence to show (no class name, no traceback).
    field : the request or settings field at fault, when there is one (a UI points at it).
    path : the file or folder at fault, when there is one.
    hint : what the user can do about it, for a UI to show under the message.
    """

    field: str | None = None
    path: str | None = None
    hint: str | None = None

    def __init__(self, message: str = "", *args: object, field: str | None = None, path: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, *args)
        if field is not None:
            self.field = field
        if path is not None:
            self.path = str(path)
        if hint is not None:
            self.hint = hint

    def for_people(self) -> str:
        """The message and, when there is one, the hint: what a dialog or the CLI prints."""
        text = str(self).strip()
        return f"{text} ({self.hint})" if self.hint and self.hint not in text else text


class ModelError(OmfaError, RuntimeError):
    """A model folder (or a VAE, a prior, a manifest in it) is missing, incomplete or inconsistent; ``path``
    names the file or folder.

    Import it from :mod:`engine.model`, where the concept lives. It is defined here, at the bottom of the
    layers, because the checks that raise it (engine.integrity, engine.codec, engine.prior) sit below the
    model and must not import it.
    """
