"""Dataset registry: ``get_dataset(name, root, split=None, **kw)`` and ``list_datasets()``.

Every reader takes the dataset root first, then ``split`` (``None`` picks the evaluation split),
then reader-specific keywords (``masks_root=``, ``sequences=``, ``holdout=``, ``multiobj=`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rtstrack.errors import DatasetError


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about one dataset.

    Attributes:
        name: canonical registry name.
        factory: ``(root, split=None, **kw) -> dataset`` (imported lazily).
        splits: accepted splits, the default (evaluation) split first.
        kind: ``"box"`` (single-object tracking) or ``"vos"`` (multi-object masks).
        description: one line for ``list_datasets``/help text.
    """

    name: str
    factory: str
    splits: tuple[str, ...]
    kind: str
    description: str

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.factory.partition(":")
        import importlib

        return getattr(importlib.import_module(module), attr)


_D = "rtstrack.data."
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("folder", _D + "folder:FolderDataset", ("all",), "box", "generic layout <seq>/frames, groundtruth.txt, masks/"),
        DatasetInfo("lasot", _D + "lasot:LaSOTDataset", ("test", "train"), "box", "LaSOT test (280) / train"),
        DatasetInfo("lasot_extension", _D + "lasot:LaSOTExtensionDataset", ("test",), "box", "LaSOT extension subset (150)"),
        DatasetInfo("got10k", _D + "got10k:GOT10kDataset", ("val", "test", "train"), "box", "GOT-10k val / test / train"),
        DatasetInfo("trackingnet", _D + "trackingnet:TrackingNetDataset", ("test", "train"), "box", "TrackingNet test (511) / train chunks"),
        DatasetInfo("nfs", _D + "nfs:NFSDataset", ("test",), "box", "Need for Speed, 30 fps (pytracking layout)"),
        DatasetInfo("uav123", _D + "uav:UAV123Dataset", ("test",), "box", "UAV123"),
        DatasetInfo("otb100", _D + "otb:OTBDataset", ("test",), "box", "OTB-100"),
        DatasetInfo("avist", _D + "avist:AVisTDataset", ("test",), "box", "AVisT"),
        DatasetInfo("vot2020", _D + "vot:VOT2020Dataset", ("test",), "box", "VOT2020 short-term (RLE masks)"),
        DatasetInfo("davis2017", _D + "vos:DAVIS2017Dataset", ("val", "train"), "vos", "DAVIS 2017 val / train (indexed PNGs)"),
        DatasetInfo("ytvos2019", _D + "vos:YouTubeVOS2019Dataset", ("valid", "train", "jjtrain", "jjvalid"), "vos", "YouTube-VOS 2019"),
    ]
}

ALIASES = {
    "dev": "folder",
    "generic": "folder",
    "lasotext": "lasot_extension",
    "lasot_ext": "lasot_extension",
    "got": "got10k",
    "got-10k": "got10k",
    "tn": "trackingnet",
    "uav": "uav123",
    "otb": "otb100",
    "vot": "vot2020",
    "davis": "davis2017",
    "ytvos": "ytvos2019",
    "youtubevos": "ytvos2019",
}


def canonical_name(name: str) -> str:
    """Registry name for ``name`` or one of its aliases (case-insensitive)."""
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())} (aliases: {', '.join(ALIASES)})")
    return key


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS[canonical_name(name)]


def list_datasets() -> list[str]:
    """Canonical names of all registered datasets."""
    return list(DATASETS)


def get_dataset(name: str, root: Path | str, split: str | None = None, **kw: Any):
    """Build the reader ``name`` over ``root``.

    Args:
        name: a name of :func:`list_datasets` or an alias (``"dev"``, ``"otb"``, ``"uav"`` ...).
        root: the dataset's root folder.
        split: the split (``None``: the evaluation split, the first of ``DatasetInfo.splits``).
        **kw: reader-specific keywords (see each reader's docstring).

    Returns:
        a dataset with ``sequence_names()``, ``len()``, indexing by position or name, iteration.
    """
    key = canonical_name(name)
    info = DATASETS[key]
    cls = info.load()
    if key == "folder":
        return cls(root, name="dev" if name.lower() == "dev" else "folder", split=split, **kw)
    return cls(root, split=split, **kw)
