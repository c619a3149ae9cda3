"""Emotion score and identity similarity against hand-computed values."""

import math

import pytest
import torch

from genfer.metrics.emotion_score import emotion_score
from genfer.metrics.identity import cosine_similarity, identity_similarity


def test_emotion_score_by_hand():
    target = torch.tensor([0.0, 1.0, 0.0])
    transferred = torch.tensor([[0.0, 1.0, 0.0],    # cos 1, hit
                                [0.6, 0.8, 0.0],    # cos 0.8, hit
                                [1.0, 0.0, 0.0]])   # cos 0, miss
    r = emotion_score(target, transferred)
    assert r.score == pytest.approx((1 + 0.8 + 0) / 3) and r.hit_rate == pytest.approx(2 / 3) and r.n == 3


def test_emotion_score_per_image_targets_and_errors():
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    transferred = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    r = emotion_score(targets, transferred)
    # cos((1,0),(1,1)) = 1/sqrt2 (argmax tie -> class 0, a hit); cos((0,1),(0,2)) = 1 (hit)
    assert r.score == pytest.approx((1 / math.sqrt(2) + 1) / 2) and r.hit_rate == 1.0
    with pytest.raises(ValueError, match="matching"):
        emotion_score(torch.ones(3), transferred)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        emotion_score(torch.ones(2), torch.ones(2))


def test_identity_similarity_with_any_module():
    embed = torch.nn.Flatten()
    source = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]])
    edited = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 2.0]]]])
    torch.testing.assert_close(identity_similarity(embed, source, edited), torch.tensor([0.0, 1.0],
                                                                                       dtype=torch.float64))
    torch.testing.assert_close(identity_similarity(lambda x: x.flatten(1) + 1, source, source),
                               torch.ones(2, dtype=torch.float64))
    assert cosine_similarity(torch.tensor([[3.0, 4.0]]), torch.tensor([[4.0, 3.0]])).item() == pytest.approx(24 / 25)
    with pytest.raises(ValueError, match="differ in shape"):
        identity_similarity(embed, source, edited[:1])
