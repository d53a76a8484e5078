"""Atomic file writes: a reader sees the old file or the whole new one, never half a file.

Why: the service reloads the newest scored snapshot, drift summary and tokens file while a
job or a command may be rewriting them. Every product file that another process reads is
written through :func:`write_atomically`: the content goes to a temporary file in the same
folder (so the final rename stays on one file system), is flushed to disk with ``fsync``, and
is moved into place with ``os.replace``. When the writer fails, the temporary file is removed
and the target is left as it was.

It lives in ``features`` (the bottom layer) because every layer writes such files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomically(
    path: str | Path, writer: Callable[[Path], object], mode: int | None = None
) -> Path:
    """Write ``path`` by calling ``writer(tmp_path)``, then move the result into place.

    Args:
        path: The target file; its folder is created if missing.
        writer: Writes the whole content to the path it is given (e.g.
            ``lambda p: frame.to_parquet(p)``). The temporary path keeps the target's suffix,
            so writers that choose a format by suffix behave the same.
        mode: Permission bits of the file, set before it becomes visible (e.g. ``0o600``
            for the tokens file); ``None`` gives an ordinary new file's (``0o666`` less the
            umask).

    Returns:
        The target path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(target, 0o600 if mode is not None else 0o666)
    try:
        writer(tmp)
        _fsync(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_text_atomically(
    path: str | Path, text: str, mode: int | None = None, encoding: str = "utf-8"
) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`write_atomically`)."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding=encoding), mode)


def _create_temporary(target: Path, mode: int) -> Path:
    """Create an empty, not yet used temporary file beside ``target`` (same suffix)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def _fsync(path: Path) -> None:
    """Flush the file's content to disk so a crash after the rename cannot leave it empty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
