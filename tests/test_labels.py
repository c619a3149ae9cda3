import pytest

from genfer import labels


def test_canonical_order_and_seven_classes():
    assert labels.EMOTIONS == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    assert labels.EMOTIONS_7 == labels.EMOTIONS[:7]
    assert labels.class_names(7)[-1] == "fear"


@pytest.mark.parametrize("table,code,name", [
    (labels.FER2013_CODES, 0, "anger"), (labels.FER2013_CODES, 3, "happiness"), (labels.FER2013_CODES, 6, "neutral"),
    (labels.RAFDB_CODES, 1, "surprise"), (labels.RAFDB_CODES, 4, "happiness"), (labels.RAFDB_CODES, 7, "neutral"),
    (labels.AFFECTNET_CODES, 0, "neutral"), (labels.AFFECTNET_CODES, 2, "sadness"), (labels.AFFECTNET_CODES, 7, "contempt"),
    (labels.CKPLUS_CODES, 2, "contempt"), (labels.CKPLUS_CODES, 7, "surprise"),
    (labels.JAFFE_CODES, "AN", "anger"), (labels.JAFFE_CODES, "FE", "fear"),
])
def test_dataset_code_tables(table, code, name):
    assert table[code] == name


def test_every_table_maps_into_canonical_names():
    for table in (labels.FER2013_CODES, labels.RAFDB_CODES, labels.AFFECTNET_CODES, labels.CKPLUS_CODES,
                  labels.JAFFE_CODES):
        assert set(table.values()) <= set(labels.EMOTIONS)
    assert len(set(labels.RAFDB_CODES.values())) == 7 and len(set(labels.AFFECTNET_CODES.values())) == 8


def test_synonyms_and_errors():
    assert labels.emotion_index("Happy") == 1
    assert labels.canonical_name("angry") == "anger"
    with pytest.raises(ValueError, match="unknown emotion label 'bored'"):
        labels.canonical_name("bored")
    with pytest.raises(ValueError):
        labels.class_names(6)
