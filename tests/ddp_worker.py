"""Run by tests/test_train.py under torchrun: train a tiny config into the given run folder.

After training the worker leaves the process group and exits with ``os._exit``: the test checks what the
ranks trained, not the C++ static teardown of torch's threads, which on a loaded machine now and then
aborts a finished rank ("terminate called without an active exception").
"""

import os
import sys

from genfer.config import apply_overrides, preset
from genfer.train.distributed import shutdown_distributed
from genfer.train.recognizer import train_recognizer

if __name__ == "__main__":
    run_dir, overrides = sys.argv[1], sys.argv[2:]
    train_recognizer(apply_overrides(preset("tiny"), overrides), run_dir, progress=False)
    shutdown_distributed()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
