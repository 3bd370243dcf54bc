"""Several objects at once: one RTS tracker state per object, one shared network, soft aggregation
of the per-object outputs into one label map (rts-spec §4.7, pytracking's ``MultiObjectWrapper`` +
``RTS.merge_results``).

Usage::

    multi = MultiTracker.from_checkpoint("rts50.pth", sta="sta.pth.tar", device="cpu")
    first = multi.init(frame0, boxes=[(x, y, w, h), (x2, y2, w2, h2)])   # ids 1, 2
    # or: multi.init(frame0, label_map=annotation)                        # ids = the map's values
    for frame in frames:
        out = multi.track(frame)              # out.label_map (H, W), out.objects[id].box / .mask
        # an object that appears on this frame (YouTube-VOS): initialise it on the same frame
        # out = multi.add_object(frame, 3, mask=new_mask)

Per frame, every object's search crop is made from its own state, the backbone runs **once** on
the batch of all crops, and each object's two branches run on its slice of the features. The raw
per-object logits are then merged (:func:`soft_aggregate`): each object's output mask is its
region of the merged label map (so the masks are disjoint), its box is that region's tight box,
and its aggregated probability is the map P its tracker learns from on the next frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rtstrack.errors import InputError
from rtstrack.models.build import load_weights
from rtstrack.models.rts import RTSNet
from rtstrack.models.sta import STANet
from rtstrack.tracker.config import TrackerConfig, pretrained_tracker_config
from rtstrack.tracker.sampling import certain_logits, mask_to_box
from rtstrack.tracker.tracker import Tracker, check_frame, frame_to_tensor, resolve_device
from rtstrack.types import Box, FrameResult


MAX_UINT8_ID = 255


@dataclass
class MultiFrameResult:
    """The output of :class:`MultiTracker` for one frame.

    Attributes:
        objects: per object id (in the order the objects were added): its :class:`FrameResult`.
            ``mask`` is ``label_map == id``; ``box`` the tight box of that mask (the object's own
            box when the merged mask is empty, e.g. fully covered by another object, and the
            given/initial box on the frame the object is initialised).
        label_map: ``(H, W)`` label map: 0 = background, else the object id owning the pixel.
            ``uint8`` when every id is <= 255 (like the reference's PNGs), else ``int32``.
        frame: index of this frame since :meth:`MultiTracker.init` (0 = the init frame).
        info: extra diagnostics for the whole frame (plain Python values; empty for now).
    """

    objects: dict[int, FrameResult]
    label_map: np.ndarray
    frame: int = 0
    info: dict = field(default_factory=dict)


def soft_aggregate(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Merge per-object raw scores into per-label probabilities (RGMP soft aggregation, spec §4.7).

    Args:
        logits: ``(N, H, W)`` raw scores of N objects (``sampling.certain_logits(mask)`` for an object
            initialised on this frame).
        eps: the background probability is clamped to ``[eps, 1 - eps]``.
    Returns:
        ``(N + 1, H, W)`` probabilities; index 0 is the background, ``k`` the ``k``-th object. With
        ``p_i = sigmoid(s_i)``, ``bg = clamp(prod_i(1 - p_i), eps, 1 - eps)`` and the scores
        ``s = [log(bg / (1 - bg)), s_1, ..., s_N]``, label ``k`` gets ``1 / sum_j exp(s_j - s_k)``
        (a softmax written as the reference does; it never divides by zero).
    """
    if logits.dim() != 3:
        raise InputError(f"logits must be (N, H, W), got shape {tuple(logits.shape)}")
    scores = logits.float()
    bg = torch.prod(1 - torch.sigmoid(scores), dim=0).clamp(eps, 1.0 - eps)
    bg_logit = torch.log(bg / (1.0 - bg))
    all_scores = torch.cat([bg_logit[None], scores], dim=0)
    return torch.stack([1.0 / torch.exp(all_scores - s[None]).sum(dim=0) for s in all_scores])


def label_map_from_probabilities(probs: torch.Tensor, object_ids: Sequence[int]) -> torch.Tensor:
    """``(N + 1, H, W)`` probabilities (index 0 = background) -> ``(H, W)`` int64 label map holding
    ``0`` or an object id (argmax; on a tie the lower index, i.e. background or the earlier object)."""
    if probs.shape[0] != len(object_ids) + 1:
        raise InputError(f"{probs.shape[0]} probability maps for {len(object_ids)} object ids (expected ids + 1)")
    # The same as ids[probs.argmax(dim=0)], but an argmax over the first dimension is ~6x slower
    # on CPU than this loop of element-wise comparisons (strict '>' keeps the first maximum).
    best = probs[0]
    labels = torch.zeros(probs.shape[1:], dtype=torch.int64, device=probs.device)
    for k, object_id in enumerate(object_ids, start=1):
        better = probs[k] > best
        best = torch.where(better, probs[k], best)
        labels.masked_fill_(better, int(object_id))
    return labels


def _check_object_id(object_id: object, what: str = "object id") -> int:
    if isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer)):
        raise InputError(f"{what} must be a positive integer, got {object_id!r}")
    if int(object_id) <= 0:
        raise InputError(f"{what} must be a positive integer (0 is the background), got {int(object_id)}")
    return int(object_id)


class MultiTracker:
    """RTS tracker for several objects sharing one network (see the module docstring).

    Args:
        net: the RTS network, shared by every object (never copied).
        sta: the box-to-mask network (optional, as for :class:`Tracker`).
        config: tracker parameters, the same for every object; ``config.aggregation_eps`` clamps
            the background probability of the soft aggregation.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        box_init: how a box becomes the first mask (see :class:`Tracker`).
        aggregate: ``True`` (default, the reference): outputs and the next frame's P come from the
            soft aggregation. ``False``: every object behaves exactly as its own :class:`Tracker`
            (own mask and box, P = sigmoid of its own logits; masks may overlap); only the backbone
            pass is shared and ``label_map`` is still the merged argmax.
    """

    def __init__(
        self,
        net: RTSNet,
        sta: STANet | None = None,
        config: TrackerConfig | None = None,
        device: str | torch.device | None = "cpu",
        box_init: str | None = None,
        aggregate: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        self.sta = sta.to(self.device).eval() if sta is not None else None
        self.config = config or TrackerConfig()
        self.box_init = box_init
        self.aggregate = aggregate
        self.trackers: dict[int, Tracker] = {}
        self.last_raw_logits: dict[int, torch.Tensor] = {}
        """Each object's ``(H, W)`` raw logits on the last frame, before aggregation (diagnostics)."""
        self.frame_index = -1
        self._image_size: tuple[int, int] | None = None
        self._last_frame: np.ndarray | None = None
        self._last_results: dict[int, FrameResult] = {}
        self._new_ids: set[int] = set()
        self._new_tracker()  # checks box_init against sta now, not when the first object arrives

    # ------------------------------------------------------------------------------------ builders
    @classmethod
    def from_checkpoint(
        cls,
        weights: str | Path,
        sta: str | Path | None = None,
        device: str | torch.device | None = "cpu",
        config: TrackerConfig | None = None,
        box_init: str | None = None,
        aggregate: bool = True,
    ) -> "MultiTracker":
        """MultiTracker from weights files (the same files as :meth:`Tracker.from_checkpoint`)."""
        net, sta_net = load_weights(weights, sta)
        return cls(net, sta_net, config=config, device=device, box_init=box_init, aggregate=aggregate)

    @classmethod
    def from_pretrained(
        cls, name: str = "default", device: str | torch.device | None = "cpu", config: TrackerConfig | None = None,
        aggregate: bool = True,
    ) -> "MultiTracker":
        """MultiTracker with a model shipped inside the package (no download); without ``config``,
        with the model's own tracker settings, as :meth:`Tracker.from_pretrained`."""
        from rtstrack.hub import pretrained_weights

        config = config or pretrained_tracker_config(name)
        return cls.from_checkpoint(pretrained_weights(name), device=device, config=config, aggregate=aggregate)

    def _new_tracker(self) -> Tracker:
        return Tracker(self.net, self.sta, config=self.config, device=self.device, box_init=self.box_init)

    # ------------------------------------------------------------------------------------ objects
    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects being tracked, in the order they were added."""
        return list(self.trackers)

    @torch.no_grad()
    def init(
        self,
        frame: np.ndarray,
        boxes: Sequence[Box | None] | None = None,
        masks: Sequence[np.ndarray | None] | None = None,
        object_ids: Sequence[int] | None = None,
        label_map: np.ndarray | None = None,
    ) -> MultiFrameResult:
        """Start tracking several objects on ``frame`` (forgets any earlier objects).

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            boxes: one ``(x, y, w, h)`` (or None when that object has a mask) per object.
            masks: one ``(H, W)`` bool mask (or None when that object has a box) per object. When
                both lists are given they must have the same length (object ``k`` = entry ``k``).
            object_ids: positive, distinct ids of the objects (default ``1, 2, ...``).
            label_map: instead of boxes/masks: an ``(H, W)`` integer map, 0 = background, each
                other value one object (``object_ids`` may then pick some of them).
        Returns:
            The frame-0 result (masks from the merged initial masks, boxes as given).
        """
        prompts = self._prompts(frame, boxes, masks, object_ids, label_map)
        # every object is started before the old ones are forgotten: a bad prompt leaves the
        # tracker as it was
        started = {object_id: self._start_object(frame, object_id, box, mask) for object_id, (box, mask) in prompts.items()}
        self.reset()
        self._image_size = (int(frame.shape[0]), int(frame.shape[1]))
        self.frame_index = 0
        self._last_frame = frame
        for object_id, (tracker, result) in started.items():
            self._adopt(object_id, tracker, result)
        return self._merge()

    @torch.no_grad()
    def add_object(
        self, frame: np.ndarray, object_id: int, box: Box | None = None, mask: np.ndarray | None = None
    ) -> MultiFrameResult:
        """Start tracking a new object that appears on ``frame`` (YouTube-VOS style).

        Call it right after ``track(frame)`` (or ``init``) with the same frame, once per new
        object: the new object is initialised on that frame with its raw score
        ``sampling.certain_logits(mask)`` and the frame's aggregation is recomputed with it, as the
        reference does. Returns the updated result of that frame.
        """
        if self._image_size is None or self._last_frame is None:
            raise InputError("add_object() called before init(): call multi.init(frame, ...) first")
        object_id = _check_object_id(object_id)
        if object_id in self.trackers:
            raise InputError(f"object id {object_id} is already tracked (ids: {self.object_ids})")
        if box is None and mask is None:
            raise InputError(f"add_object({object_id}) needs box=(x, y, w, h) or mask=(H, W) array")
        if frame is not self._last_frame and not (
            isinstance(frame, np.ndarray) and frame.shape == self._last_frame.shape and np.array_equal(frame, self._last_frame)
        ):
            raise InputError(
                "add_object() must be given the frame last passed to track() (or init()): "
                "a new object is initialised on the frame where it appears"
            )
        self._adopt(object_id, *self._start_object(frame, object_id, box, mask))
        return self._merge()

    def remove_object(self, object_id: int) -> None:
        """Stop tracking an object (its id may be used again later)."""
        object_id = _check_object_id(object_id)
        if object_id not in self.trackers:
            raise InputError(f"object id {object_id} is not tracked (ids: {self.object_ids})")
        del self.trackers[object_id]
        self.last_raw_logits.pop(object_id, None)
        self._last_results.pop(object_id, None)
        self._new_ids.discard(object_id)

    def reset(self) -> None:
        """Forget every object; ``init`` must be called again."""
        self.trackers.clear()
        self.last_raw_logits.clear()
        self._last_results.clear()
        self._new_ids.clear()
        self._image_size = None
        self._last_frame = None
        self.frame_index = -1

    def _start_object(self, frame: np.ndarray, object_id: int, box: Box | None, mask: np.ndarray | None) -> tuple[Tracker, FrameResult]:
        """A new tracker initialised on ``frame`` and its frame-0 result; changes nothing in ``self``."""
        tracker = self._new_tracker()
        try:
            return tracker, tracker.init(frame, box=box, mask=mask)
        except InputError as exc:
            raise InputError(f"object {object_id}: {exc}") from None

    def _adopt(self, object_id: int, tracker: Tracker, result: FrameResult) -> None:
        """Add a started object to the tracked ones (its first logits, result and 'new' flag)."""
        self.trackers[object_id] = tracker
        init_mask = torch.from_numpy(result.mask).to(self.device, torch.float32)
        self.last_raw_logits[object_id] = certain_logits(init_mask)
        result.info = {**result.info, "frame": self.frame_index, "object_frame": 0, "initialised": True}
        self._last_results[object_id] = result
        self._new_ids.add(object_id)

    def _prompts(self, frame, boxes, masks, object_ids, label_map) -> dict[int, tuple[Box | None, np.ndarray | None]]:
        """Check the init arguments; ``{id: (box, mask)}`` in object order."""
        check_frame(frame)
        height, width = frame.shape[:2]
        if label_map is not None:
            if boxes is not None or masks is not None:
                raise InputError("give either label_map= or boxes=/masks=, not both")
            label_map = np.asarray(label_map)
            if label_map.shape != (height, width):
                raise InputError(f"label_map shape {label_map.shape} does not match the frame size {(height, width)}")
            if not np.issubdtype(label_map.dtype, np.integer):
                raise InputError(f"label_map must hold integer object ids, got dtype {label_map.dtype}")
            present = [int(v) for v in np.unique(label_map) if v != 0]
            if any(v < 0 for v in present):
                raise InputError(f"label_map holds negative values {[v for v in present if v < 0]}")
            ids = present if object_ids is None else [_check_object_id(v) for v in object_ids]
            missing = sorted(set(ids) - set(present))
            if missing:
                raise InputError(f"object ids {missing} do not appear in label_map (its ids: {present})")
            if not ids:
                raise InputError("label_map has no object (only background 0)")
            boxes, masks = [None] * len(ids), [label_map == v for v in ids]
        else:
            if boxes is None and masks is None:
                raise InputError("init needs boxes=[(x, y, w, h), ...], masks=[mask, ...] or label_map=")
            if boxes is not None and masks is not None and len(boxes) != len(masks):
                raise InputError(f"boxes and masks must have one entry per object: got {len(boxes)} boxes, {len(masks)} masks")
            count = len(boxes) if boxes is not None else len(masks)  # type: ignore[arg-type]
            if count == 0:
                raise InputError("init needs at least one object")
            boxes = list(boxes) if boxes is not None else [None] * count
            masks = list(masks) if masks is not None else [None] * count
            for k, (box, mask) in enumerate(zip(boxes, masks)):
                if box is None and mask is None:
                    raise InputError(f"object {k + 1} has neither a box nor a mask")
            ids = list(range(1, count + 1)) if object_ids is None else [_check_object_id(v) for v in object_ids]
            if len(ids) != count:
                raise InputError(f"object_ids has {len(ids)} ids for {count} objects")
        if len(set(ids)) != len(ids):
            raise InputError(f"object ids must be distinct, got {ids}")
        return dict(zip(ids, zip(boxes, masks)))

    # ------------------------------------------------------------------------------------ track
    @torch.no_grad()
    def track(self, frame: np.ndarray) -> MultiFrameResult:
        """Track every object into ``frame`` (``(H, W, 3)`` uint8 RGB, same size as the first).

        Steps: each object's ``begin_frame`` (memory update, reposition, search crop); ONE
        ``net.extract_backbone`` on the batch of all crops; each object's ``end_frame`` on its slice;
        soft aggregation of the raw logits (see :class:`MultiTracker` for ``aggregate=False``).
        """
        if self._image_size is None:
            raise InputError("track() called before init(): call multi.init(frame, boxes=[...]) first")
        trackers = list(self.trackers.items())
        check_frame(frame, self._image_size)
        self.frame_index += 1
        self._last_frame = frame
        self._new_ids.clear()
        self._last_results = {}
        self.last_raw_logits = {}
        if trackers:
            image = frame_to_tensor(frame, self.device)
            crops = [tracker.begin_frame(image) for _, tracker in trackers]
            backbone = self.net.extract_backbone(self.net.normalize(torch.cat([c.patch for c in crops])))
            for k, (object_id, tracker) in enumerate(trackers):
                crops[k].backbone = {name: feat[k : k + 1] for name, feat in backbone.items()}
                raw, result = tracker.end_frame(image, crops[k])
                result.info = {**result.info, "frame": self.frame_index, "object_frame": result.info["frame"], "initialised": False}
                self.last_raw_logits[object_id] = raw
                self._last_results[object_id] = result
        return self._merge()

    def _merge(self) -> MultiFrameResult:
        """Soft-aggregate the last raw logits, set every object's next P, build the results."""
        height, width = self._image_size  # type: ignore[misc]
        ids = list(self.trackers)
        use_uint8 = all(i <= MAX_UINT8_ID for i in ids)
        if not ids:
            empty = np.zeros((height, width), dtype=np.uint8)
            return MultiFrameResult(objects={}, label_map=empty, frame=self.frame_index)
        logits = torch.stack([self.last_raw_logits[i] for i in ids])
        probs = soft_aggregate(logits, self.config.aggregation_eps)
        labels = label_map_from_probabilities(probs, ids)
        objects: dict[int, FrameResult] = {}
        for k, object_id in enumerate(ids):
            tracker, own = self.trackers[object_id], self._last_results[object_id]
            if not self.aggregate:
                if object_id not in self._new_ids:
                    tracker.set_previous_probability(torch.sigmoid(logits[k]))
                objects[object_id] = own
                continue
            tracker.set_previous_probability(probs[k + 1])
            region = labels == object_id
            box = own.box
            empty = not bool(region.any())
            if not empty and object_id not in self._new_ids:
                box = mask_to_box(region)
            info = {**own.info, "merged_mask_empty": empty, "own_box": tuple(own.box)}
            objects[object_id] = FrameResult(
                box=tuple(float(v) for v in box), mask=region.cpu().numpy(), score=own.score, found=own.found, info=info
            )
        label_np = labels.cpu().numpy().astype(np.uint8 if use_uint8 else np.int32)
        return MultiFrameResult(objects=objects, label_map=label_np, frame=self.frame_index)

