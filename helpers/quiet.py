"""Importing TensorFlow without its start-up lines on stderr.

TensorFlow's C++ code writes straight to file descriptor 2 while it loads ("WARNING:
All log messages before absl::InitializeLog() ...", "cudart_stub.cc ... Could not find
cuda drivers", oneDNN notes), even with TF_CPP_MIN_LOG_LEVEL=3. The command line and
the notebooks import it through `import_tensorflow()`, so their stderr holds only what
they print themselves: every error really is one line.
"""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment (C++ libraries write there directly).

    Python's own exceptions are not lost: they propagate after fd 2 is restored.
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import TensorFlow and Keras with fd 2 silenced (and TF_CPP_MIN_LOG_LEVEL 2 unless set); return tf."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    with stderr_silenced():
        import keras  # noqa: F401  (its start-up lines too)
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery writes its lines here too, once
    return tf
