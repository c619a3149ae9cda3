"""Dataset readers: each validates one dataset layout and returns :class:`FaceImages`.

Use :func:`open_dataset` (by name) or a ``load_*`` reader directly. Labels are canonical indices of
:data:`genfer.labels.EMOTIONS`.
"""

from genfer.data.affectnet import load_affectnet
from genfer.data.base import DatasetLayoutError, FaceImages
from genfer.data.ckplus import load_ckplus
from genfer.data.fer2013 import load_fer2013
from genfer.data.ferplus import load_ferplus
from genfer.data.generic import load_csv, load_image_folder
from genfer.data.jaffe import load_jaffe
from genfer.data.rafdb import load_rafdb
from genfer.data.registry import DATASETS, dataset_options, default_split, open_dataset

__all__ = [
    "DATASETS",
    "DatasetLayoutError",
    "FaceImages",
    "dataset_options",
    "default_split",
    "load_affectnet",
    "load_ckplus",
    "load_csv",
    "load_fer2013",
    "load_ferplus",
    "load_image_folder",
    "load_jaffe",
    "load_rafdb",
    "open_dataset",
]
