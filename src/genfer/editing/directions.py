"""Emotion directions from sampled codes and a recognizer's scores, and the numbers of the paper's Figs. 4-5.

For N sampled codes ``X`` (N, F) (flattened W or W+ codes) and the recognizer's softmax probabilities ``P``
(N, K):

* ``svr`` (the paper's choice): one linear SVR per emotion k on **all** samples with target ``P[:, k]``
  (scikit-learn's :class:`~sklearn.svm.LinearSVR` on centred codes; the intercept is moved back to the raw
  codes), so ``f_k(x) = <coef_k, x> + intercept_k`` approximates the probability of k;
* ``svm`` (InterFaceGAN): a linear SVM (:class:`~sklearn.svm.LinearSVC`) separating the ``extremes`` highest
  scored samples of k from the ``extremes`` lowest; its decision function is ``f_k``.

The direction of k is ``coef_k`` normalised; correlations between directions are kept (no orthogonalisation),
as the paper does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FIT_METHODS", "LinearFit", "cosine_matrix", "dominant_counts", "fit_linear", "neutral_sum_test",
           "unit_rows"]

FIT_METHODS = ("svr", "svm")


@dataclass
class LinearFit:
    """One linear function per emotion over flat codes: ``f_k(x) = coef[k] · x + intercept[k]``.

    coef: (K, F) float64; intercept: (K,); r2: (K,) coefficient of determination of each regressor on the fitted
    samples (``svr``) or training accuracy (``svm``).
    """

    coef: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows of a (K, F) scaled to unit L2 norm."""
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _fit_svr(x: np.ndarray, y: np.ndarray, *, c: float, epsilon: float, max_iter: int,
             seed: int) -> tuple[np.ndarray, float, float]:
    from sklearn.svm import LinearSVR

    model = LinearSVR(C=c, epsilon=epsilon, loss="squared_epsilon_insensitive", dual=False, max_iter=max_iter,
                      random_state=seed, fit_intercept=True)
    model.fit(x, y)
    return model.coef_.astype(np.float64), float(model.intercept_[0]), float(model.score(x, y))


def _fit_svm(x: np.ndarray, y: np.ndarray, *, extremes: int, c: float, max_iter: int,
             seed: int) -> tuple[np.ndarray, float, float]:
    from sklearn.svm import LinearSVC

    n = min(extremes, len(y) // 2)
    if n < 1:
        raise ValueError("the SVM needs at least two samples")
    order = np.argsort(y, kind="stable")
    idx = np.concatenate([order[:n], order[-n:]])
    labels = np.concatenate([np.zeros(n), np.ones(n)])
    model = LinearSVC(C=c, dual=False, max_iter=max_iter, random_state=seed)
    model.fit(x[idx], labels)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0]), float(model.score(x[idx], labels))


def fit_linear(codes: np.ndarray, scores: np.ndarray, *, method: str = "svr", c: float = 1.0, epsilon: float = 0.0,
               extremes: int = 10_000, max_iter: int = 10_000, seed: int = 0) -> LinearFit:
    """One linear function per score column.

    Args:
        codes: (N, F) flattened codes.
        scores: (N, K) targets (softmax probabilities of the recognizer).
        method: ``svr`` (regression on all samples) or ``svm`` (classification of the extremes).
        c: the regularisation constant C of either.
        epsilon: the SVR's insensitive margin (0: plain squared loss with an L2 penalty).
        extremes: samples per side of the SVM (InterFaceGAN: 10,000 of 500,000).
        max_iter, seed: of the liblinear solver.

    Returns:
        A :class:`LinearFit` in the raw (uncentred) code coordinates.
    """
    if method not in FIT_METHODS:
        raise ValueError(f"method must be one of {', '.join(FIT_METHODS)}, not {method!r}")
    codes = np.asarray(codes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if codes.ndim != 2 or scores.ndim != 2 or len(codes) != len(scores):
        raise ValueError(f"need codes (N, F) and scores (N, K), got {codes.shape} and {scores.shape}")
    mean = codes.mean(0)
    centred = codes - mean  # liblinear penalises the intercept: fit on centred codes, move it back after
    coefs, intercepts, fits = [], [], []
    for k in range(scores.shape[1]):
        if method == "svr":
            a, b, fit = _fit_svr(centred, scores[:, k], c=c, epsilon=epsilon, max_iter=max_iter, seed=seed)
        else:
            a, b, fit = _fit_svm(centred, scores[:, k], extremes=extremes, c=c, max_iter=max_iter, seed=seed)
        coefs.append(a)
        intercepts.append(b - float(a @ mean))
        fits.append(fit)
    return LinearFit(coef=np.stack(coefs), intercept=np.asarray(intercepts), r2=np.asarray(fits))


def cosine_matrix(directions: np.ndarray) -> np.ndarray:
    """(K, K) cosine similarities of the rows of a (K, F) array (the paper's Fig. 5)."""
    unit = unit_rows(np.asarray(directions, dtype=np.float64))
    return unit @ unit.T


def dominant_counts(scores: np.ndarray, *, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(argmax counts (K,), counts of probabilities above ``threshold`` (K,)) of (N, K) scores (Fig. 4)."""
    k = scores.shape[1]
    return np.bincount(scores.argmax(1), minlength=k), (scores > threshold).sum(0)


def neutral_sum_test(coef: np.ndarray, neutral: int) -> dict[str, float]:
    """The paper's claim "the neutral direction is the sum of the other directions", measured.

    ``cos_unit_sum``: cosine of the neutral direction with the sum of the other *unit* directions (the claim as
    stated); ``cos_negated_coef_sum``: cosine of the neutral regressor's coefficients with minus the sum of the
    others' raw coefficients. Probabilities sum to 1, so least-squares coefficients of all K classes sum to 0:
    the second is about +1 and the claim holds with a minus sign when the first is close to −1.
    """
    coef = np.asarray(coef, dtype=np.float64)
    others = [k for k in range(len(coef)) if k != neutral]
    unit = unit_rows(coef)

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    return {"cos_unit_sum": cos(unit[neutral], unit[others].sum(0)),
            "cos_negated_coef_sum": cos(coef[neutral], -coef[others].sum(0))}
