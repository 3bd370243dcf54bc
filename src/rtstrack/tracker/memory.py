"""Bounded sample memories of the two learners and their shared weight-update rule (rts-spec §4.4)."""

from __future__ import annotations

import torch


def update_sample_weights(
    weights: torch.Tensor,
    previous_replace: int | None,
    num_stored: int,
    num_init: int,
    learning_rate: float,
    init_min_weight: float | None,
) -> int:
    """Update the memory weights in place for a new sample; return the slot it goes to.

    New samples weigh ``1/(1-lr)`` times the previous new one (exponential forgetting); when the
    memory is full the lightest slot is replaced (initial samples excluded when ``init_min_weight``
    is set, and then guaranteed at least that total weight). Reproduces the reference exactly,
    including its final renormalisation that does not sum to 1.
    """
    if init_min_weight == 0:
        init_min_weight = None
    start = 0 if init_min_weight is None else num_init
    if num_stored == 0 or learning_rate == 1:
        weights[:] = 0
        weights[0] = 1
        replace = 0
    else:
        if num_stored < weights.shape[0]:
            replace = num_stored
        else:
            replace = int(torch.min(weights[start:], 0)[1]) + start
        if previous_replace is None:
            weights /= 1 - learning_rate
            weights[replace] = learning_rate
        else:
            weights[replace] = weights[previous_replace] / (1 - learning_rate)
    weights /= weights.sum()
    if init_min_weight is not None and weights[:num_init].sum() < init_min_weight:
        weights /= init_min_weight + weights[num_init:].sum()
        weights[:num_init] = init_min_weight / num_init
    return replace


class SampleMemory:
    """Fixed-capacity memory of named sample tensors with weights; the first samples are the initial ones.

    Args:
        capacity: number of slots.
        learning_rate: weight of each new sample relative to the previous ones (see above).
        init_min_weight: minimum total weight of the initial samples (None: may be evicted).
        cap_count: stop counting at ``capacity`` (segmentation memory) or keep counting (classifier,
            whose reference counter runs past the capacity and is only clipped when slicing).
    """

    def __init__(self, capacity: int, learning_rate: float, init_min_weight: float | None, cap_count: bool) -> None:
        self.capacity = capacity
        self.learning_rate = learning_rate
        self.init_min_weight = init_min_weight
        self.cap_count = cap_count
        self.tensors: dict[str, torch.Tensor] = {}
        self.weights = torch.zeros(capacity)
        self.num_init = 0
        self.num_stored = 0
        self.previous_replace: int | None = None

    def initialize(self, samples: dict[str, torch.Tensor], init_weights: torch.Tensor) -> None:
        """Allocate the slots and store the initial samples (each tensor ``(n, ...)``)."""
        n = init_weights.shape[0]
        self.tensors = {}
        for name, value in samples.items():
            store = value.new_zeros(self.capacity, *value.shape[1:])
            store[:n] = value
            self.tensors[name] = store
        self.weights = torch.zeros(self.capacity, dtype=init_weights.dtype)
        self.weights[:n] = init_weights
        self.num_init = n
        self.num_stored = n
        self.previous_replace = None

    def add(self, samples: dict[str, torch.Tensor], learning_rate: float | None = None) -> int:
        """Store one sample (each tensor ``(1, ...)``); returns the slot used."""
        lr = self.learning_rate if learning_rate is None else learning_rate
        slot = update_sample_weights(self.weights, self.previous_replace, self.num_stored, self.num_init, lr, self.init_min_weight)
        self.previous_replace = slot
        for name, value in samples.items():
            self.tensors[name][slot : slot + 1] = value
        if not self.cap_count or self.num_stored < self.capacity:
            self.num_stored += 1
        return slot

    @property
    def size(self) -> int:
        """Number of filled slots."""
        return min(self.num_stored, self.capacity)

    def get(self, name: str) -> torch.Tensor:
        """The filled part of tensor ``name``: ``(size, ...)``."""
        return self.tensors[name][: self.size]

    def has(self, name: str) -> bool:
        return name in self.tensors

    def set(self, name: str, values: torch.Tensor, slots: list[int] | None = None) -> None:
        """Overwrite tensor ``name`` in ``slots`` (default: the filled part, ``values`` then
        ``(size, ...)``), creating it if needed: a per-sample quantity derived from the stored
        samples, which :meth:`add` does not fill (the caller tracks which slots are stale)."""
        if name not in self.tensors:
            self.tensors[name] = values.new_zeros(self.capacity, *values.shape[1:])
        index = slice(0, self.size) if slots is None else slots
        self.tensors[name][index] = values

    def drop(self, name: str) -> None:
        """Forget tensor ``name`` (no-op when absent)."""
        self.tensors.pop(name, None)
