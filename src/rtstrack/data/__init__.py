"""Datasets: one lazy sequence layer used by both evaluation and training.

``get_dataset(name, root, split=None, **kw)`` builds any registered reader; ``list_datasets()``
names them. Every reader lists sequences without decoding images and returns
:class:`Sequence` objects.
"""

from rtstrack.data.folder import FolderDataset
from rtstrack.data.registry import DATASETS, get_dataset, list_datasets
from rtstrack.data.sequence import Sequence

__all__ = ["DATASETS", "FolderDataset", "Sequence", "get_dataset", "list_datasets"]
