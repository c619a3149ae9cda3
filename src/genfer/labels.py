"""Emotion taxonomy and every supported dataset's label map.

genfer's canonical order is FERPlus / AffectNet-8 naming, in the FERPlus vote-column order::

    0 neutral, 1 happiness, 2 surprise, 3 sadness, 4 anger, 5 disgust, 6 fear, 7 contempt

A 7-class model or dataset uses the first seven (no contempt). Every dataset reader maps its own
codes into these indices with the tables below, so a model's output index ``k`` always means
``EMOTIONS[k]``.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
"""The eight canonical emotion names, in canonical index order."""

EMOTIONS_7: tuple[str, ...] = EMOTIONS[:7]
"""The seven basic emotions (no contempt), canonical order."""

NEUTRAL = EMOTIONS.index("neutral")

#: Synonyms seen in dataset folder names and label files, mapped to canonical names.
SYNONYMS: dict[str, str] = {
    "neutral": "neutral",
    "ne": "neutral",
    "happy": "happiness",
    "happiness": "happiness",
    "joy": "happiness",
    "ha": "happiness",
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "sad": "sadness",
    "sadness": "sadness",
    "sa": "sadness",
    "angry": "anger",
    "anger": "anger",
    "an": "anger",
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "fe": "fear",
    "contempt": "contempt",
    "co": "contempt",
}

#: FER2013 ``fer2013.csv`` ``emotion`` column (0..6).
FER2013_CODES: dict[int, str] = {
    0: "anger",
    1: "disgust",
    2: "fear",
    3: "happiness",
    4: "sadness",
    5: "surprise",
    6: "neutral",
}

#: FERPlus vote columns, in file order (the last two are not emotions).
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = EMOTIONS + ("unknown", "NF")

#: RAF-DB basic ``list_patition_label.txt`` labels (1..7).
RAFDB_CODES: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happiness",
    5: "sadness",
    6: "anger",
    7: "neutral",
}

#: AffectNet manual annotations ``expression`` column (0..7 are emotions; 8 none, 9 uncertain,
#: 10 no-face are not).
AFFECTNET_CODES: dict[int, str] = {
    0: "neutral",
    1: "happiness",
    2: "sadness",
    3: "surprise",
    4: "fear",
    5: "disgust",
    6: "anger",
    7: "contempt",
}

#: CK+ ``Emotion/*_emotion.txt`` codes (0..7; 0 is neutral, used for first frames).
CKPLUS_CODES: dict[int, str] = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happiness",
    6: "sadness",
    7: "surprise",
}

#: JAFFE file-name codes, e.g. ``KA.AN1.39.tiff``.
JAFFE_CODES: dict[str, str] = {
    "NE": "neutral",
    "HA": "happiness",
    "SU": "surprise",
    "SA": "sadness",
    "AN": "anger",
    "DI": "disgust",
    "FE": "fear",
}


def canonical_name(name: str) -> str:
    """Map a label spelling (``"Happy"``, ``"SA"``, ``"fearful"``) to its canonical emotion name.

    Raises ``ValueError`` naming the unknown label.
    """
    key = name.strip().lower()
    if key not in SYNONYMS:
        raise ValueError(f"unknown emotion label {name!r}; expected one of {', '.join(EMOTIONS)}")
    return SYNONYMS[key]


def emotion_index(name: str) -> int:
    """Canonical index (0..7) of any label spelling."""
    return EMOTIONS.index(canonical_name(name))


def class_names(num_classes: int) -> tuple[str, ...]:
    """Canonical names for a 7- or 8-class head."""
    if num_classes not in (7, 8):
        raise ValueError(f"genfer heads have 7 or 8 emotion classes, not {num_classes}")
    return EMOTIONS[:num_classes]


TRANSFER_LABEL_SOURCES = ("classifier", "recognizer")
"""Where an expression transfer's input labels come from: the switch-unit GAN's own classifier C, or a recognizer."""
