"""Training: the shared loop and run machinery, and one trainer per method.

Importing this package attaches every built-in trainer to its method in :mod:`genfer.registry`, which is what
``genfer train METHOD`` looks up.
"""

from genfer.train.asit import train_asit
from genfer.train.hyperstyle import train_hyperstyle
from genfer.train.ifer import train_ifer
from genfer.train.mae import train_mae
from genfer.train.pfvit import train_pfvit
from genfer.train.psp import train_psp
from genfer.train.recognizer import train_recognizer
from genfer.train.stylegan2 import train_stylegan2
from genfer.train.switchgan import train_switchgan

__all__ = ["train_asit", "train_hyperstyle", "train_ifer", "train_mae", "train_pfvit", "train_psp", "train_recognizer", "train_stylegan2", "train_switchgan"]
