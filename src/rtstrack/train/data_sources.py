"""Build the training/validation videos of a recipe from its :class:`DatasetSpec` list.

``folder`` sources use :class:`rtstrack.data.folder.FolderDataset`; ``sod`` and ``sod_paste`` sources use
:mod:`rtstrack.train.synthetic`. Benchmark readers (``ytvos``, ``davis``, ``got10k``, ``lasot``)
come from ``rtstrack.data``; register them with :func:`register_reader` (a callable
``(root, spec) -> iterable of Sequence``). Until a reader is registered, a source whose folder
is in the generic layout is read with ``FolderDataset``.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable, Iterable

from rtstrack.data.folder import FolderDataset
from rtstrack.data.sequence import Sequence
from rtstrack.errors import ConfigError, DatasetError
from rtstrack.train.recipes import DatasetSpec
from rtstrack.train.sampler import SequenceVideo, TrainVideo
from rtstrack.train.synthetic import pasted_videos, synthetic_videos

Reader = Callable[[Path, DatasetSpec], Iterable[Sequence]]


def _registry_reader(name: str, **kw) -> Reader:
    """A reader of ``rtstrack.data.registry`` (single-object view for the VOS datasets)."""

    def read(root: Path, spec: DatasetSpec) -> Iterable[Sequence]:
        from rtstrack.data.registry import get_dataset

        return get_dataset(name, root, split=spec.split, **kw)

    return read


READERS: dict[str, Reader] = {
    "ytvos": _registry_reader("ytvos2019", multiobj=False),
    "davis": _registry_reader("davis2017", multiobj=False),
    "got10k": _registry_reader("got10k"),
    "lasot": _registry_reader("lasot"),
}


def register_reader(kind: str, reader: Reader) -> None:
    """Make ``DatasetSpec(kind=kind)`` read sequences with ``reader(root, spec)``."""
    READERS[kind] = reader


def resolve(data_root: Path | str, path: str | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    return p if p.is_absolute() else Path(data_root) / p


def _keep(name: str, spec: DatasetSpec) -> bool:
    if spec.include and not any(name.startswith(p) for p in spec.include):
        return False
    return not any(name.startswith(p) for p in spec.exclude)


def is_held_out(name: str, fraction: float) -> bool:
    """Deterministic split: a sequence is held out when ``crc32(name) mod 10000 < fraction*10000``."""
    return fraction > 0 and (zlib.crc32(name.encode()) % 10000) < fraction * 10000


def build_videos(spec: DatasetSpec, data_root: Path | str, seed: int = 0) -> list[TrainVideo]:
    """All training videos of one source (sequences filtered by ``include``/``exclude``).

    Raises:
        ConfigError: unknown ``kind`` (not ``folder``, ``sod``, ``sod_paste`` or a registered reader).
        DatasetError: the folder does not exist.
    """
    root = resolve(data_root, spec.root)
    assert root is not None
    if spec.kind == "sod":
        videos = synthetic_videos(root, length=spec.synthetic_length, seed=seed)
        return [v for v in videos if _keep(v.image_path.stem, spec)]
    if spec.kind == "sod_paste":
        pasted = pasted_videos(root, length=spec.synthetic_length, seed=seed)
        return [v for v in pasted if _keep(v.target_path.stem, spec)]
    if spec.kind in READERS:
        seqs: Iterable[Sequence] = READERS[spec.kind](root, spec)
    elif spec.kind == "folder":
        seqs = FolderDataset(root, name=spec.kind)
    else:
        raise ConfigError(
            f"no reader for dataset kind {spec.kind!r} (root {root}); known kinds: "
            f"{', '.join(['folder', 'sod', 'sod_paste', *sorted(READERS)])}. Register one with "
            "rtstrack.train.data_sources.register_reader, or convert the data to the generic folder layout"
        )
    pseudo = resolve(data_root, spec.pseudo_masks)
    return [
        SequenceVideo(seq, pseudo_masks=pseudo, skip_interval=spec.skip_interval, max_frames=spec.max_frames)
        for seq in seqs
        if _keep(seq.name, spec)
    ]


def build_sources(
    specs: list[DatasetSpec], data_root: Path | str, seed: int = 0, val_fraction: float = 0.0, part: str = "train"
) -> tuple[list[list[TrainVideo]], list[float]]:
    """Videos and weights of each source; with ``val_fraction > 0`` keep only the ``part``
    (``train`` or ``val``) of each source's deterministic split (:func:`is_held_out`)."""
    if part not in ("train", "val"):
        raise ConfigError(f"part must be 'train' or 'val', got {part!r}")
    datasets, weights = [], []
    for spec in specs:
        videos = build_videos(spec, data_root, seed)
        if val_fraction > 0:
            videos = [v for v in videos if is_held_out(v.name, val_fraction) == (part == "val")]
        if videos:
            datasets.append(videos)
            weights.append(spec.weight)
    if not datasets and part == "train":
        raise DatasetError(f"no training sequences found under {data_root} for {[s.root for s in specs]}")
    return datasets, weights
