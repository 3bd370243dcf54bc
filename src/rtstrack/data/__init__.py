"""Datasets: one lazy sequence layer used by both evaluation and training."""

from rtstrack.data.sequence import Sequence

__all__ = ["Sequence"]
