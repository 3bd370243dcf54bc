"""Video object segmentation datasets: DAVIS 2017 and YouTube-VOS 2019.

Both store one indexed (palette) PNG per annotated frame whose values are object ids (0 is
background, 255 is DAVIS's "void"). Two views are offered:

* ``multiobj=True`` (evaluation default): one :class:`Sequence` per video with ``object_ids`` and
  ``masks`` pointing at the indexed PNGs (``None`` for frames without an annotation file). Boxes
  are all NaN: VOS evaluation uses masks, and each object starts from its first annotated mask
  (``extra["init_frames"]``, aligned with ``object_ids``).
* ``multiobj=False`` (training, as in spec §5.1): one sequence per (video, object), named
  ``<video>_<id>``, whose ``read_mask`` returns that object's 0/1 mask, with per-frame tight boxes
  and ``extra["visible"]`` (more than :data:`VISIBLE_MIN_PIXELS` pixels). Building such a sequence
  reads all masks of its video (once; cached per video).

DAVIS 2017 layout::

    ROOT/JPEGImages/480p/<video>/00000.jpg ...
    ROOT/Annotations/480p/<video>/00000.png ...
    ROOT/ImageSets/2017/{train,val}.txt

YouTube-VOS 2019 layout::

    ROOT/<train|valid>/JPEGImages/<video>/<frame>.jpg
    ROOT/<train|valid>/Annotations/<video>/<frame>.png
    ROOT/<train|valid>/meta.json       {"videos": {video: {"objects": {"1": {"frames": [...]}, ...}}}}

YouTube-VOS splits: ``valid`` (evaluation, first-appearance masks only), ``train`` (all of it),
``jjtrain`` = train minus a held-out list of video ids and ``jjvalid`` = that list (spec §5.1's
300-video holdout); pass the list as ``holdout=[...]`` or a path to a file with one id per line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence as SeqOf
from pathlib import Path

import numpy as np

from rtstrack.data.base import (
    SequenceDataset,
    check_split,
    image_files,
    nan_boxes,
    read_name_list,
    require_dir,
    require_file,
)
from rtstrack.data.sequence import Sequence
from rtstrack.types import mask_box
from rtstrack.errors import DatasetError

VISIBLE_MIN_PIXELS = 10
"""An object is visible in a frame when its mask has more than this many pixels (spec §5.1)."""
VOID_LABEL = 255


def read_index_png(path: Path) -> np.ndarray:
    """Read an indexed PNG as an ``(H, W)`` uint8 label map (palette indices, not colours)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.array(im)
    except OSError as exc:
        raise DatasetError(f"cannot read mask {path}: {exc}") from exc
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr.astype(np.uint8)


def object_ids_of(label_map: np.ndarray) -> list[int]:
    """Object ids present in a label map (without background 0 and void 255)."""
    return [int(v) for v in np.unique(label_map) if v not in (0, VOID_LABEL)]


class ObjectMaskReader:
    """Picklable ``index -> (H, W) uint8 0/1`` reader of one object's mask from indexed PNGs."""

    def __init__(self, paths: list[Path | None], object_id: int) -> None:
        self.paths = paths
        self.object_id = object_id

    def __call__(self, index: int) -> np.ndarray | None:
        path = self.paths[index]
        if path is None:
            return None
        return (read_index_png(path) == self.object_id).astype(np.uint8)


class _VOSDataset(SequenceDataset):
    """Shared logic: subclasses provide ``_video_paths(video) -> (frames, masks)`` and object ids."""

    def __init__(self, root: Path | str, split: str, multiobj: bool) -> None:
        super().__init__(root, split)
        self.multiobj = multiobj
        self._videos: list[str] = []
        self._objects: dict[str, list[int]] = {}  # filled lazily for multiobj=False
        self._cache: dict[str, Sequence] = {}

    # subclass hooks ------------------------------------------------------------------------
    def _video_paths(self, video: str) -> tuple[list[Path], list[Path | None]]:  # pragma: no cover
        raise NotImplementedError

    def _video_objects(self, video: str) -> tuple[list[int], list[int]]:
        """Object ids of a video and the index of each one's first annotated frame."""
        _, masks = self._video_paths(video)
        ids: list[int] = []
        first: list[int] = []
        for i, path in enumerate(masks):
            if path is None:
                continue
            for obj in object_ids_of(read_index_png(path)):
                if obj not in ids:
                    ids.append(obj)
                    first.append(i)
            if self._first_mask_has_all():
                break
        if not ids:
            raise DatasetError(f"{self.name}: video {video!r} has no object in its annotation PNGs")
        order = np.argsort(ids)
        return [ids[i] for i in order], [first[i] for i in order]

    def _first_mask_has_all(self) -> bool:
        return False

    # listing ---------------------------------------------------------------------------------
    def _finish_listing(self, videos: list[str]) -> None:
        self._videos = videos
        if self.multiobj:
            self._names = list(videos)
        else:
            names = []
            for video in videos:
                ids, _ = self._video_objects(video)
                self._objects[video] = ids
                names.extend(f"{video}_{obj}" for obj in ids)
            self._names = names

    def _load(self, name: str) -> Sequence:
        if self.multiobj:
            frames, masks = self._video_paths(name)
            ids, first = self._video_objects(name)
            return Sequence(
                name=name,
                frames=frames,
                boxes=nan_boxes(len(frames)),
                masks=masks,
                object_ids=ids,
                dataset=self.name,
                extra={"init_frames": np.array(first, dtype=np.int64)},
            )
        video, _, obj = name.rpartition("_")
        return self._object_sequence(video, int(obj))

    def _object_sequence(self, video: str, obj: int) -> Sequence:
        key = f"{video}_{obj}"
        if key not in self._cache:
            frames, masks = self._video_paths(video)
            reader = ObjectMaskReader(masks, obj)
            boxes = nan_boxes(len(frames))
            visible = np.zeros(len(frames), dtype=bool)
            for i in range(len(frames)):
                m = reader(i)
                if m is not None:
                    boxes[i] = mask_box(m)
                    visible[i] = int(m.sum()) > VISIBLE_MIN_PIXELS
            self._cache[key] = Sequence(
                name=key,
                frames=frames,
                boxes=boxes,
                masks=masks,
                dataset=self.name,
                extra={"visible": visible},
                mask_reader=reader,
            )
        return self._cache[key]


class DAVIS2017Dataset(_VOSDataset):
    """DAVIS 2017 ``val`` (default) or ``train``; see the module docstring."""

    name = "davis2017"
    splits = ("val", "train")

    def __init__(self, root: Path | str, split: str | None = None, multiobj: bool = True, resolution: str = "480p") -> None:
        super().__init__(root, check_split(self.name, split, self.splits, "val"), multiobj)
        self.images = require_dir(self.root / "JPEGImages" / resolution, f"DAVIS's JPEGImages/{resolution} folder")
        self.annotations = require_dir(self.root / "Annotations" / resolution, f"DAVIS's Annotations/{resolution} folder")
        videos = read_name_list(self.root / "ImageSets" / "2017" / f"{self.split}.txt", "DAVIS's video list")
        self._finish_listing(videos)

    def _first_mask_has_all(self) -> bool:
        return True  # DAVIS annotates every object in the first frame

    def _video_paths(self, video: str) -> tuple[list[Path], list[Path | None]]:
        frames = image_files(self.images / video, f"the frames of {video}")
        mdir = require_dir(self.annotations / video, f"the annotation PNGs of {video}")
        masks = [mdir / f"{f.stem}.png" for f in frames]
        if not masks[0].is_file():
            raise DatasetError(f"{masks[0]}: missing; DAVIS needs the first frame's annotation")
        return frames, [m if m.is_file() else None for m in masks]


class YouTubeVOS2019Dataset(_VOSDataset):
    """YouTube-VOS 2019 ``valid`` (default), ``train``, ``jjtrain`` or ``jjvalid``.

    Args:
        holdout: video ids held out of ``train`` for ``jjtrain``/``jjvalid`` (a list, or a path to
            a file with one id per line). Required for those two splits.
    """

    name = "ytvos2019"
    splits = ("valid", "train", "jjtrain", "jjvalid")

    def __init__(
        self,
        root: Path | str,
        split: str | None = None,
        multiobj: bool = True,
        holdout: SeqOf[str] | Path | str | None = None,
    ) -> None:
        super().__init__(root, check_split(self.name, split, self.splits, "valid"), multiobj)
        folder = "valid" if self.split == "valid" else "train"
        self.base = require_dir(self.root / folder, f"YouTube-VOS's {folder}/ folder")
        self.images = require_dir(self.base / "JPEGImages", f"YouTube-VOS's {folder}/JPEGImages folder")
        self.annotations = require_dir(self.base / "Annotations", f"YouTube-VOS's {folder}/Annotations folder")
        meta_path = require_file(self.base / "meta.json", "YouTube-VOS's meta.json")
        try:
            self.meta = json.loads(meta_path.read_text())["videos"]
        except (ValueError, KeyError) as exc:
            raise DatasetError(f"{meta_path}: expected JSON with a 'videos' mapping ({exc})") from None
        videos = sorted(self.meta)
        if self.split in ("jjtrain", "jjvalid"):
            if holdout is None:
                raise DatasetError(f"ytvos2019 split {self.split!r} needs holdout=[video ids] (or a list file)")
            held = read_name_list(Path(holdout)) if isinstance(holdout, (str, Path)) else list(holdout)
            unknown = [v for v in held if v not in self.meta]
            if unknown:
                raise DatasetError(f"{meta_path}: holdout videos not in the train split: {unknown[:3]}")
            held_set = set(held)
            videos = [v for v in videos if (v in held_set) == (self.split == "jjvalid")]
        self._finish_listing(videos)

    def _video_paths(self, video: str) -> tuple[list[Path], list[Path | None]]:
        frames = image_files(self.images / video, f"the frames of {video}")
        mdir = self.annotations / video
        masks = [mdir / f"{f.stem}.png" for f in frames]
        return frames, [m if m.is_file() else None for m in masks]

    def _video_objects(self, video: str) -> tuple[list[int], list[int]]:
        objects = self.meta[video].get("objects", {})
        if not objects:
            raise DatasetError(f"{self.base / 'meta.json'}: video {video!r} lists no objects")
        frames, _ = self._video_paths(video)
        stems = [f.stem for f in frames]
        ids, first = [], []
        for key in sorted(objects, key=int):
            obj_frames = objects[key].get("frames", [])
            if not obj_frames or obj_frames[0] not in stems:
                raise DatasetError(
                    f"{self.base / 'meta.json'}: object {key} of {video!r} starts at frame "
                    f"{obj_frames[:1]} which is not in {self.images / video}"
                )
            ids.append(int(key))
            first.append(stems.index(obj_frames[0]))
        return ids, first
