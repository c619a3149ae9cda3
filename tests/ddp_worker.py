"""Run by tests/test_train.py under torchrun: train a tiny config into the given run folder."""

import sys

from genfer.config import apply_overrides, preset
from genfer.train.recognizer import train_recognizer

if __name__ == "__main__":
    run_dir, overrides = sys.argv[1], sys.argv[2:]
    train_recognizer(apply_overrides(preset("tiny"), overrides), run_dir, progress=False)
