"""helpers.files: file identity, regular files only, atomic saves that lose nothing, true one-line causes.

Every situation is made in the test itself: hard links, symlink loops, a FIFO, and, for
what root cannot be denied (read-only disks, full disks), os functions monkeypatched to
fail with the real errno.
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import files
from helpers.files import FileError, atomic_write, describe_os_error, same_file

REPO = Path(__file__).resolve().parents[1]


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(files.TEMP_PREFIX)]


def fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


# --- identity --------------------------------------------------------------------------


def test_same_file_sees_hard_links_and_symlinks(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"pixels")
    os.link(photo, tmp_path / "out.jpg")
    (tmp_path / "link.jpg").symlink_to(photo)
    (tmp_path / "copy.jpg").write_bytes(b"pixels")
    assert same_file(tmp_path / "out.jpg", photo)  # another name, same inode
    assert same_file(tmp_path / "link.jpg", photo)
    assert not same_file(tmp_path / "copy.jpg", photo)
    assert not same_file(tmp_path / "missing.png", photo)


def test_an_output_that_is_an_input_is_refused(tmp_path):
    photo, style = tmp_path / "photo.jpg", tmp_path / "style.jpg"
    photo.write_bytes(b"1")
    style.write_bytes(b"2")
    os.link(photo, tmp_path / "out.jpg")
    with pytest.raises(FileError, match="same file as the input") as info:
        files.check_not_an_input(tmp_path / "out.jpg", inputs=[style, photo])
    assert str(photo) in str(info.value) and "\n" not in str(info.value)
    files.check_not_an_input(tmp_path / "new.png", inputs=[photo, style])  # a new name is fine


# --- regular files only ------------------------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    # In a subprocess with a timeout: opening a FIFO would block this test forever.
    code = f"from helpers import files\ntry:\n    files.check_regular_file({str(fifo)!r})\nexcept files.FileError as e:\n    print(e)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.stdout.strip() == f"{fifo}: is a named pipe (FIFO), not a regular file", result.stderr


def test_devices_and_folders_are_refused(tmp_path):
    with pytest.raises(FileError, match="is a device"):
        files.check_regular_file("/dev/null")
    with pytest.raises(FileError, match="is a folder"):
        files.check_regular_file(tmp_path)
    with pytest.raises(FileError, match="no such file"):
        files.check_regular_file(tmp_path / "missing.jpg")
    (tmp_path / "ok.jpg").write_bytes(b"x")
    assert files.check_regular_file(tmp_path / "ok.jpg").st_size == 1


# --- one-line true causes ------------------------------------------------------------------


def real_error(tmp_path: Path, kind: str) -> tuple[OSError, Path]:
    """Provoke a real OSError of this kind on this machine's file system."""
    (tmp_path / "file").write_bytes(b"")
    loop = tmp_path / "loop"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    path = {"ENOENT": tmp_path / "missing.jpg", "EISDIR": tmp_path, "ENOTDIR": tmp_path / "file" / "x.jpg",
            "ENAMETOOLONG": tmp_path / ("x" * 300 + ".jpg"), "ELOOP": loop}[kind]
    try:
        open(path, "ab" if kind == "EISDIR" else "rb").close()
    except OSError as exc:
        return exc, path
    raise AssertionError(f"no error for {kind}")


@pytest.mark.parametrize("kind, words", [("ENOENT", "no such file"), ("EISDIR", "is a folder"),
                                         ("ENOTDIR", "is a file, not a folder"), ("ENAMETOOLONG", "too long"),
                                         ("ELOOP", "symbolic links")])
def test_real_errors_name_the_path_and_the_cause(tmp_path, kind, words):
    exc, path = real_error(tmp_path, kind)
    assert exc.errno == getattr(errno, kind)
    message = describe_os_error(exc, path)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


@pytest.mark.parametrize("code, words, environment", [
    (errno.EROFS, "read-only file system", True),
    (errno.ENOSPC, "no space left", True),
    (errno.EDQUOT, "quota", True),
    (errno.EIO, "input/output error", True),
    (errno.EACCES, "permission denied", False),
    (errno.EPERM, "not permitted", False),
    (errno.EILSEQ, os.strerror(errno.EILSEQ), False),  # no entry of our own: strerror
])
def test_errors_root_cannot_provoke_say_their_true_cause(code, words, environment):
    # Root ignores permission bits, and a full or read-only disk cannot be made in a test:
    # the errors are built with the errno the system would give.
    exc = OSError(code, os.strerror(code), "/data/out.png")
    message = describe_os_error(exc)
    assert message == f"/data/out.png: {message.split(': ', 1)[1]}" and words in message
    error = files.file_error(exc)
    assert error.environment is environment and str(error) == message
    if code == errno.EROFS:
        assert "permission" not in message


# --- atomic saves -------------------------------------------------------------------------------


def test_atomic_write_creates_replaces_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out.png"
    atomic_write(path, lambda f: f.write(b"first"), overwrite=False)
    assert path.read_bytes() == b"first"
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode  # the umask's permissions, not mkstemp's 0600
    atomic_write(path, lambda f: f.write(b"second"), overwrite=True)
    assert path.read_bytes() == b"second" and temp_files(tmp_path) == []


def test_without_overwrite_an_existing_file_is_never_replaced(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"the user's file")
    with pytest.raises(FileExistsError):
        atomic_write(path, lambda f: f.write(b"new"), overwrite=False)
    assert path.read_bytes() == b"the user's file" and temp_files(tmp_path) == []


def test_a_file_that_appears_during_the_save_is_not_replaced(tmp_path):
    path = tmp_path / "out.png"

    def write(f):
        f.write(b"result")
        path.write_bytes(b"written meanwhile by someone else")

    with pytest.raises(FileExistsError):
        atomic_write(path, write, overwrite=False)
    assert path.read_bytes() == b"written meanwhile by someone else" and temp_files(tmp_path) == []


def test_exclusive_save_without_hard_links(tmp_path, monkeypatch):
    """File systems without hard links (FAT, some network drives) still get an exclusive create."""
    monkeypatch.setattr(os, "link", fail_with(errno.EPERM))
    path = tmp_path / "out.png"
    atomic_write(path, lambda f: f.write(b"result"), overwrite=False)
    assert path.read_bytes() == b"result"
    with pytest.raises(FileExistsError):
        atomic_write(path, lambda f: f.write(b"again"), overwrite=False)
    assert path.read_bytes() == b"result" and temp_files(tmp_path) == []


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_full_disk_keeps_the_old_file_and_removes_the_temp_file(tmp_path, overwrite):
    path = tmp_path / "out.png"
    path.write_bytes(b"old picture")

    def write(f):
        f.write(b"half a pic")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        atomic_write(path, write, overwrite=overwrite)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old picture" and temp_files(tmp_path) == []


def test_a_failed_fsync_or_an_interrupt_also_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    monkeypatch.setattr(os, "fsync", fail_with(errno.EIO))
    with pytest.raises(OSError):
        atomic_write(path, lambda f: f.write(b"x"), overwrite=True)
    monkeypatch.undo()

    def interrupted(f):
        f.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted, overwrite=True)
    assert not path.exists() and temp_files(tmp_path) == []


def test_a_failed_save_is_rescued_into_a_temporary_folder(tmp_path, read_only_folder, monkeypatch):
    target = tmp_path / "readonly" / "out.png"
    target.parent.mkdir()
    read_only_folder(target.parent)
    saved, note = files.save_or_rescue(target, lambda f: f.write(b"minutes of work"), overwrite=False)
    monkeypatch.undo()
    assert saved != target and saved.name == "out.png" and saved.parent.name.startswith(files.RESCUE_PREFIX)
    assert saved.read_bytes() == b"minutes of work"
    assert f"{target}: read-only file system" in note and str(saved) in note and "\n" not in note
    saved.unlink()
    saved.parent.rmdir()

    ok, note = files.save_or_rescue(tmp_path / "fine.png", lambda f: f.write(b"x"), overwrite=False)
    assert ok == tmp_path / "fine.png" and note is None


def test_stale_temp_files_are_swept_and_young_ones_kept(tmp_path):
    old = tmp_path / f"{files.TEMP_PREFIX}123-abcd-weights.h5"
    young = tmp_path / f"{files.TEMP_PREFIX}456-ef01-weights.h5"
    other = tmp_path / "weights.h5"
    for p in (old, young, other):
        p.write_bytes(b"x" * 1000)
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    assert files.sweep_temp_files(tmp_path) == [old]
    assert not old.exists() and young.exists() and other.exists()
    assert files.sweep_temp_files(tmp_path / "missing") == []


def test_unique_names_differ_and_are_safe():
    a, b = files.unique_name("my photo/..", ".png"), files.unique_name("my photo/..", ".png")
    assert a != b and a.startswith("my-photo_") and a.endswith(".png") and "/" not in a


def test_a_taken_name_moves_to_the_next_free_name_and_the_other_file_is_kept(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"someone else's")
    (tmp_path / "out-2.png").write_bytes(b"taken too")
    saved, note = files.save_or_rescue(target, lambda f: f.write(b"result"), overwrite=False, next_free_name=True)
    assert saved == tmp_path / "out-3.png" and saved.read_bytes() == b"result"
    assert target.read_bytes() == b"someone else's" and (tmp_path / "out-2.png").read_bytes() == b"taken too"
    assert "appeared during the run" in note and str(saved) in note and "\n" not in note
    # without next_free_name the clash is rescued (the file is not replaced either)
    rescued, note = files.save_or_rescue(target, lambda f: f.write(b"result"), overwrite=False)
    assert rescued.parent.name.startswith(files.RESCUE_PREFIX) and "already exists" in note
    assert target.read_bytes() == b"someone else's"


def test_a_rescue_can_go_into_a_given_folder(tmp_path, read_only_folder):
    target = tmp_path / "readonly" / "out.gif"
    target.parent.mkdir()
    (tmp_path / "rescue").mkdir()
    read_only_folder(target.parent)
    saved, note = files.save_or_rescue(target, lambda f: f.write(b"frames"), overwrite=False,
                                       rescue_folder=tmp_path / "rescue")
    assert saved == tmp_path / "rescue" / "out.gif" and saved.read_bytes() == b"frames"
    assert "read-only file system" in note
