"""Shared fixtures: the genuine VGG16 weights (built offline) and one VGG16 model per session."""
from __future__ import annotations

import errno
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

import pytest

from helpers import weights


@pytest.fixture(scope="session")
def weights_path(tmp_path_factory):
    """Path of a verified VGG16 "notop" .h5, built offline from the mirror into a private cache.

    KERAS_HOME points at a fresh temporary folder for the whole session, so the tests
    never read or write the user's ~/.keras and never touch the network.
    """
    keras_home = tmp_path_factory.mktemp("keras_home")
    saved = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(keras_home)
    try:
        path = weights.vgg16_weights_path(download=False)
        assert path.parent == keras_home / "models"
        yield path
    finally:
        if saved is None:
            os.environ.pop("KERAS_HOME", None)
        else:
            os.environ["KERAS_HOME"] = saved


@pytest.fixture(scope="session")
def vgg16_model(weights_path):
    """keras.applications.VGG16 without its classifier, any input size, genuine weights (built once)."""
    import keras

    return keras.applications.VGG16(weights=str(weights_path), include_top=False, input_shape=(None, None, 3))


@pytest.fixture
def read_only_folder(monkeypatch):
    """make(folder): creating a file directly in `folder` fails with EROFS, as on a read-only disk.

    Root writes anywhere and a read-only mount needs privileges, so os.open is monkeypatched
    to fail with the errno the system would give; `monkeypatch.undo()` ends it early.
    """
    real_open = os.open

    def make(folder):
        def read_only(path, flags, *args, **kwargs):
            if Path(path).parent == Path(folder) and flags & os.O_CREAT:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", read_only)

    return make
