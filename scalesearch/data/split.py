"""Stratified, seeded index selection: subsets and held-out splits keep each class's share."""

from __future__ import annotations

import numpy as np


def stratified_indices(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` sorted indices into `labels`, each class drawn in proportion to its size.

    Quotas are floor(size * count / total); the leftover slots go to the classes with the
    largest remainders (ties to the lower class). Members are drawn at random with `seed`.
    """
    labels = np.asarray(labels)
    classes, sizes = np.unique(labels, return_counts=True)
    quotas, remainders = np.divmod(sizes * count, labels.size)
    leftover = count - int(quotas.sum())
    quotas[np.argsort(-remainders, kind="stable")[:leftover]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quotas)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def held_out_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices with a stratified `fraction` of `labels` held out for testing."""
    test = stratified_indices(labels, round(len(labels) * fraction), seed)
    train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    return train, test
