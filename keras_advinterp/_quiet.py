"""Import TensorFlow without its start-up noise reaching the user.

TensorFlow 2.21 writes its oneDNN notice, the absl "before InitializeLog"
warning and the CPU-instruction hint straight to file descriptor 2 while it
is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The console entry
point calls ``import_tensorflow_quietly()`` before any command imports
TensorFlow: fd 2 goes to a temporary file during the import and the device
start-up, and every line that is not one of those notices is written back
to stderr (the CUDA build's "failed call to cuInit" only where no NVIDIA
driver is installed, where it means just "no GPU").

It also drops TensorFlow's "triggered tf.function retracing" warning from
the ``tensorflow`` logger: a command builds one compiled function per attack
or interpreter object and per batch-size bucket, so an experiment with 96
cells traces many fresh functions by design, and TensorFlow's counter (which
spans function objects) reads that as a retracing loop. Experiment scripts
(``runner.script_main``) drop it too; library users who import TensorFlow
themselves keep the warning.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|"
    r"cpu_feature_guard|To enable the following instructions|rebuild TensorFlow with the appropriate compiler|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"Could not find cuda drivers|TF-TRT Warning"
)
# The standard tensorflow wheel (a CUDA build) calls cuInit when it first lists devices; on a machine
# with no NVIDIA driver that fails with an error line that means only "no GPU". Kept where a driver exists.
NO_DRIVER_NOISE = re.compile(r"failed call to cuInit")


RETRACING = "triggered tf.function retracing"


class _DropRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in record.getMessage()


def drop_retracing_warnings() -> None:
    """Filters TensorFlow's retracing warning out of its logger (the console entry point and experiment scripts)."""
    logger = logging.getLogger("tensorflow")  # the logger tf.get_logger() returns
    if not any(isinstance(f, _DropRetracing) for f in logger.filters):
        logger.addFilter(_DropRetracing())


def _has_nvidia_driver() -> bool:
    return os.path.exists("/proc/driver/nvidia/version")


def quiet_environment() -> None:
    """Environment settings that keep TensorFlow's C++ logging to errors (set before its import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow_quietly():
    """Imports TensorFlow (once) with its start-up notices filtered out; returns the module."""
    quiet_environment()
    drop_retracing_warnings()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (e.g. some embedded interpreters): import as is
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # device start-up (and its cuInit line) inside the capture
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            no_driver = not _has_nvidia_driver()
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if line.strip() and not NOISE.search(line) and not (no_driver and NO_DRIVER_NOISE.search(line))]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return tensorflow
