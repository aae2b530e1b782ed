"""Files the user owns are never lost: identity checks, atomic saves, one-line OS errors.

No TensorFlow here (and nothing heavy): the command checks its arguments with these
functions before TensorFlow starts.

- `same_file(a, b)`: are two names one file (a hard link, a symlink, another spelling)?
- `check_not_an_input(output, inputs=...)`: refuse an output that would replace an input.
- `check_regular_file(path)`: refuse a folder, a FIFO, a socket or a device before opening it.
- `atomic_write(path, write, overwrite=...)`: a finished file, or no change at all.
- `save_or_rescue(path, write, overwrite=...)`: if the save fails, keep the result elsewhere
  (or, with next_free_name, next to a file that took its name).
- `describe_os_error(exc, path)`: any OSError as one line that names the true cause.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

# Temporary files of unfinished saves start with this prefix (and are hidden on Unix),
# so `sweep_temp_files` can recognize the ones a killed process left behind.
TEMP_PREFIX = ".nst-tmp-"
RESCUE_PREFIX = "nst-rescued-"  # fresh folders in the system's temporary folder

# Causes that are the machine's, not the user's input: exit status 1 instead of 2.
ENVIRONMENT_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM, errno.EMFILE, errno.ENFILE}

_CAUSES = {
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.EACCES: "permission denied (the file, or a folder on the way, does not allow it)",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "input/output error (a failing disk or a lost network drive?)",
    errno.EEXIST: "already exists",
    errno.ENXIO: "no such device (a FIFO without a writer, or a device that is gone)",
    errno.ETXTBSY: "the file is busy",
    errno.EXDEV: "on another file system",
}


class FileError(ValueError):
    """A file problem as one line naming the path; `environment` is True for the machine's fault
    (read-only file system, full disk, I/O error), False for the user's input."""

    def __init__(self, message: str, *, environment: bool = False):
        super().__init__(message)
        self.environment = environment


def describe_os_error(exc: OSError, path=None) -> str:
    """One line `<path>: <true cause>` for an OSError (the path defaults to the error's own).

    The cause is chosen by errno, so a read-only file system is never "permission
    denied" and a full disk never "damaged data"; unknown errnos fall back to strerror.
    """
    name = path if path is not None else (exc.filename if exc.filename is not None else "")
    cause = _CAUSES.get(exc.errno) or exc.strerror or str(exc) or type(exc).__name__
    text = f"{name}: {cause}" if str(name) else cause
    return " ".join(text.split())


def file_error(exc: OSError, path=None, *, kind: type[FileError] = FileError) -> FileError:
    """`describe_os_error` as a FileError (or the subclass `kind`), marked as the environment's
    fault where it is."""
    return kind(describe_os_error(exc, path), environment=exc.errno in ENVIRONMENT_ERRNOS)


# --- identity and kind ------------------------------------------------------------------


def same_file(a, b) -> bool:
    """True if `a` and `b` are the same file (device and inode; symlinks followed).

    Catches what comparing resolved paths misses: a hard link is the same file under
    another name. A name that does not exist (yet) is nobody's file: False.
    """
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_not_an_input(output, *, inputs: Iterable) -> None:
    """Raise FileError if writing `output` would replace one of the `inputs` (same file)."""
    for source in inputs:
        if same_file(output, source):
            raise FileError(f"{output}: is the same file as the input {source}; choose another output name")


def check_regular_file(path) -> os.stat_result:
    """Raise FileError unless `path` is an existing regular file (symlinks followed); return its stat.

    Uses os.stat only, never open(): opening a FIFO blocks until someone writes to it,
    and reading a device can go on forever.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise file_error(exc, path) from None
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return st
    if stat.S_ISDIR(mode):
        kind = "is a folder, not a file"
    elif stat.S_ISFIFO(mode):
        kind = "is a named pipe (FIFO), not a regular file"
    elif stat.S_ISSOCK(mode):
        kind = "is a socket, not a regular file"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "is a device, not a regular file"
    else:
        kind = "is not a regular file"
    raise FileError(f"{path}: {kind}")


# --- atomic saves -------------------------------------------------------------------------


def _temp_name(path: Path) -> Path:
    # The prefix makes leftovers recognizable; the pid and the random part make the name unique.
    return path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def atomic_write(path, write: Callable[[BinaryIO], object], *, overwrite: bool) -> Path:
    """Write a file so that `path` is either the complete new file or untouched.

    `write(f)` writes the content into the binary file object `f`: a temporary file in
    the same folder (so the final rename stays on one file system). It is flushed and
    fsync'ed, then
    - overwrite=True: renamed over `path` (os.replace; an existing file is replaced in
      one step, a symlink at `path` is replaced by the file, its target kept);
    - overwrite=False: linked to `path` (os.link), which fails if `path` exists, so a
      file that appeared meanwhile is never replaced (FileExistsError).
    On any failure, an interruption included, the temporary file is removed and the
    exception propagates (an OSError: see `describe_os_error`). The folder must exist.
    Returns `path` as a Path.
    """
    path = Path(path)
    tmp = _temp_name(path)
    # 0o666 minus the umask: the permissions a plain open() would have given.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(path.parent)
    return path


def _link_exclusive(tmp: Path, path: Path) -> None:
    """Give the finished `tmp` the name `path` only if nothing has that name; remove `tmp`."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        # No hard links here (FAT, some network drives): claim the name with an exclusive
        # create, then rename over our own empty placeholder.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_or_rescue(path, write: Callable[[BinaryIO], object], *, overwrite: bool, next_free_name: bool = False,
                   rescue_folder=None) -> tuple[Path, str | None]:
    """Save atomically at `path`; if that fails, save into a fresh temporary folder instead.

    next_free_name: without `overwrite`, a file that already has the name (one that
        appeared during a long run) is never replaced: the file goes to the first free
        name `stem-2.suffix`, `stem-3.suffix`, ... next to it (claimed exclusively, so
        two processes never pick the same one).
    rescue_folder: where to rescue to (e.g. where a companion file went); default a
        fresh temporary folder.
    Returns (where the file is, None) on success at `path`, or (the file, one line
    saying why `path` was not used and where the file went). Minutes of optimization
    are never lost to a full disk, a read-only folder or a name clash.
    Raises FileError (naming both causes) only if the rescue fails too.
    """
    path = Path(path)
    candidate, n = path, 2
    while True:
        try:
            saved = atomic_write(candidate, write, overwrite=overwrite)
        except FileExistsError:
            if not next_free_name or n > 999:
                problem = describe_os_error(FileExistsError(errno.EEXIST, "exists"), path)
                break
            candidate, n = path.with_name(f"{path.stem}-{n}{path.suffix}"), n + 1
            continue
        except OSError as exc:
            problem = describe_os_error(exc, candidate)
            break
        if saved == path:
            return saved, None
        return saved, f"{path} appeared during the run and is kept; saved as {saved} instead"
    try:
        folder = Path(rescue_folder) if rescue_folder is not None else Path(tempfile.mkdtemp(prefix=RESCUE_PREFIX))
        rescued = atomic_write(folder / path.name, write, overwrite=False)
    except OSError as exc:
        raise FileError(f"could not save {problem}; nor in a temporary folder: {describe_os_error(exc)}",
                        environment=True) from None
    return rescued, f"could not save {problem}; saved it as {rescued} instead"


def unique_name(stem: str, suffix: str) -> str:
    """`stem_<date-time>-<random>suffix`: a file name no other run (or user) picks at the same time."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "file"
    return f"{safe}_{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}{suffix}"


def sweep_temp_files(folder, *, older_than_s: float = 600.0) -> list[Path]:
    """Remove this module's temporary files in `folder` older than `older_than_s` seconds.

    A save that is killed (SIGKILL, power loss) cannot clean up after itself; this
    removes what it left. Young files are kept: another process may be writing them.
    Returns the removed paths; problems (a missing folder, a race) are ignored.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
