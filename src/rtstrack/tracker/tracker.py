"""The RTS online tracker: a stateful predictor wrapping the pure networks (rts-spec §4).

Usage::

    tracker = Tracker.from_checkpoint("rts50.pth", sta="sta.pth.tar", device="cpu")
    first = tracker.init(frame0, box=(x, y, w, h))       # or mask=(H, W) bool
    for frame in frames:
        out = tracker.track(frame)                        # out.box, out.mask, out.score, out.found

Frames are ``(H, W, 3)`` ``uint8`` numpy arrays in **RGB** order, all of the same size. Boxes are
``(x, y, w, h)`` floats in full-image pixels. The per-frame procedure reproduces the authors'
tracker, including its quirks (spec §7); memory use is bounded by the two sample memories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from rtstrack.errors import ConfigError, InputError
from rtstrack.models.build import load_weights
from rtstrack.models.rts import RTSNet
from rtstrack.models.sta import STANet
from rtstrack.tracker.box_init import predict_init_mask
from rtstrack.tracker.components import keep_target_components
from rtstrack.tracker.config import TrackerConfig, pretrained_tracker_config, resolve_tracker_config
from rtstrack.tracker.labels import gaussian_label, label_center
from rtstrack.tracker.memory import SampleMemory
from rtstrack.tracker.sampling import (
    box_in_crop,
    certain_logits,
    crop_to_output,
    gaussian_blur,
    mask_to_box,
    paste_scores,
    probability_and_mask,
    sample_location,
    sample_patch,
)
from rtstrack.types import Box, FrameResult


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; other values as given, checked: a CUDA
    device must exist (``cuda:1`` on a one-GPU machine is an InputError)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device {str(device)!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(device)!r}: no CUDA device is available here; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) available")
    return dev


def check_frame(frame: np.ndarray, expect_size: tuple[int, int] | None = None) -> None:
    """Raise InputError unless ``frame`` is an ``(H, W, 3)`` uint8 RGB array (of ``expect_size``
    ``(H, W)`` when given: every frame of a video has the first one's size)."""
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame must be a numpy array (H, W, 3) uint8 RGB, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InputError(f"frame must have dtype uint8 (RGB 0..255), got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"frame must have shape (H, W, 3) (RGB), got {frame.shape}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise InputError(f"frame is too small: {frame.shape}")
    if expect_size is not None and tuple(frame.shape[:2]) != tuple(expect_size):
        raise InputError(
            f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's "
            f"{expect_size[1]}x{expect_size[0]}; all frames of a video must have the same size"
        )


def frame_to_tensor(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(1, 3, H, W)`` float RGB in [0, 255] on ``device``."""
    # torch.from_numpy warns on read-only arrays (np.asarray of a PIL image is one); the frame
    # is only read, so such frames are copied rather than shared
    frame = np.require(frame, requirements=("C", "W"))
    return torch.from_numpy(frame).to(device).permute(2, 0, 1)[None].float()


@dataclass
class TrackState:
    """Everything the tracker carries from one frame to the next (``(y, x)`` / ``(h, w)`` tensors)."""

    frame_num: int = 0
    image_size: tuple[int, int] = (0, 0)
    pos: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    target_sz: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    target_scale: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    base_target_sz: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    target_scales: list[torch.Tensor] = field(default_factory=list)
    target_not_found_counter: int = 0
    is_lost_seg: bool = False
    seg_too_small: bool = False
    is_lost_clf: bool = False
    prev_probability: torch.Tensor | None = None  # (H, W) map P fed to the next frame
    prev_sample_loc: torch.Tensor | None = None
    prev_target_scale: torch.Tensor | None = None
    prev_seg_features: torch.Tensor | None = None
    seg_filter: torch.Tensor | None = None
    # instance branch
    clf_pos: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    clf_target_sz: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    clf_target_scale: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    clf_base_target_sz: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    clf_min_scale: float = 0.0
    clf_max_scale: float = 0.0
    clf_sigma: float = 0.0
    prev_clf_pos: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    prev_clf_target_sz: torch.Tensor = field(default_factory=lambda: torch.zeros(2))
    clf_filter: torch.Tensor | None = None


@dataclass
class SearchCrop:
    """One object's search crop on one frame (made by :meth:`Tracker.begin_frame`).

    Attributes:
        patch: ``(1, 3, h, w)`` RGB float crop in [0, 255], ``(h, w)`` = the tracker's crop size.
        coords: ``(1, 4)`` crop corners ``(y0, x0, y1, x1)`` in full-image pixels.
        sample_pos: ``(2,)`` crop centre ``(y, x)`` in full-image pixels.
        sample_scale: image pixels per crop pixel.
        backbone: the backbone stages of ``patch`` (``net.extract_backbone(net.normalize(patch))``),
            each ``(1, C, h', w')``; set by the caller between ``begin_frame`` and ``end_frame``.
    """

    patch: torch.Tensor
    coords: torch.Tensor
    sample_pos: torch.Tensor
    sample_scale: torch.Tensor
    backbone: dict[str, torch.Tensor] | None = None


class Tracker:
    """RTS tracker for one object (see the module docstring).

    Args:
        net: the RTS network.
        sta: the box-to-mask network; without it, ``init`` needs a mask (or ``box_init="box"``).
        config: tracker parameters (default: the reference ``rts50`` values).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        box_init: how a box becomes the first mask when no mask is given: ``"sta"`` (the STA
            network; default when one is available), ``"self"`` (the tracker's own segmentation
            branch, trained on the box rectangle, segments the first frame inside the box; default
            otherwise) or ``"box"`` (the filled rectangle).
    """

    def __init__(
        self,
        net: RTSNet,
        sta: STANet | None = None,
        config: TrackerConfig | None = None,
        device: str | torch.device | None = "cpu",
        box_init: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        if self.device.type == "cpu":
            # Same values; oneDNN's CPU convolutions on these small maps run faster with NHWC
            # weights and inputs (the fast paths keep the features channels-last).
            self.net.to(memory_format=torch.channels_last)
        self.sta = sta.to(self.device).eval() if sta is not None else None
        self.config = config or TrackerConfig()
        self.box_init = box_init or ("sta" if sta is not None else "self")
        if self.box_init not in ("sta", "self", "box"):
            raise InputError(f"box_init={self.box_init!r}: use 'sta', 'self' or 'box'")
        if self.box_init == "sta" and self.sta is None:
            raise InputError("box_init='sta' needs an STA network (pass sta=...)")
        size = self.config.image_sample_size or net.config.image_size
        stride = net.config.input_multiple
        if len(size) != 2 or any(not isinstance(v, (int, float)) or int(v) != v or v <= 0 or v % stride for v in size):
            raise ConfigError(
                f"image_sample_size={tuple(size)}: use two positive multiples of {stride} for this network "
                f"(its coarsest feature stride), e.g. {tuple(net.config.image_size)}"
            )
        self.crop_size = torch.tensor(size, dtype=torch.float32)
        self.state: TrackState | None = None
        self.seg_memory: SampleMemory | None = None
        self.clf_memory: SampleMemory | None = None
        self._unscored_slots: set[int] = set()  # segmentation memory slots added since the scores were kept
        self._feature_geometry()

    # ------------------------------------------------------------------------------------ builders
    @classmethod
    def from_checkpoint(
        cls,
        weights: str | Path,
        sta: str | Path | None = None,
        device: str | torch.device | None = "cpu",
        config: TrackerConfig | None = None,
    ) -> "Tracker":
        """Tracker from weights files: an official ``rts50.pth`` (+ ``sta.pth.tar``) or an rtstrack
        ``.safetensors`` file (which may contain its own box-to-mask network)."""
        net, sta_net = load_weights(weights, sta)
        return cls(net, sta_net, config=config, device=device)

    @classmethod
    def from_pretrained(
        cls, name: str = "default", device: str | torch.device | None = "cpu", config: TrackerConfig | None = None
    ) -> "Tracker":
        """Tracker with a model shipped inside the package (no download). Without ``config`` it
        runs with the model's own tracker settings (:func:`pretrained_tracker_config`)."""
        from rtstrack.hub import pretrained_weights

        config = config or pretrained_tracker_config(name)
        return cls.from_checkpoint(pretrained_weights(name), device=device, config=config)

    def _feature_geometry(self) -> None:
        c = self.net.config
        crop = self.crop_size
        self.seg_feature_sz = (crop / c.feature_stride).floor()
        self.seg_kernel = torch.tensor([float(c.seg_filter_size)] * 2)
        self.clf_feature_sz = (crop / (c.feature_stride * c.clf_feat_stride)).floor()
        self.clf_kernel = (float(c.clf_filter_size), float(c.clf_filter_size))
        self.clf_output_sz = self.clf_feature_sz + torch.tensor([(k + 1) % 2 for k in self.clf_kernel])

    # ------------------------------------------------------------------------------------ validation
    @staticmethod
    def _check_box(box, height: int, width: int) -> Box:
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise InputError(f"box must be 4 numbers (x, y, w, h), got {box!r}") from None
        if len(values) != 4:
            raise InputError(f"box must be 4 numbers (x, y, w, h), got {len(values)} values")
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"box has NaN or infinite values: {values}")
        x, y, w, h = values
        if w <= 0 or h <= 0:
            raise InputError(f"box width and height must be > 0, got w={w}, h={h}")
        if w < 1 or h < 1:
            raise InputError(f"box {values} is smaller than one pixel; boxes are (x, y, w, h) in pixels, not "
                             f"fractions of the frame")
        x0, y0 = max(x, 0.0), max(y, 0.0)
        x1, y1 = min(x + w, float(width)), min(y + h, float(height))
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise InputError(f"box {values} lies outside the {width}x{height} frame (less than one pixel of it inside)")
        return (x0, y0, x1 - x0, y1 - y0)

    # ------------------------------------------------------------------------------------ init
    @torch.no_grad()
    def init(self, frame: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None) -> FrameResult:
        """Start tracking.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            box: ``(x, y, w, h)`` of the target; clipped to the frame when partly outside.
            mask: ``(H, W)`` bool (or 0/1, 0/255) mask of the target. With a mask and no box, the
                box is the mask's tight box.
        Returns:
            The frame-0 result: the given (clipped) box and the initial mask.
        """
        check_frame(frame, None)
        height, width = frame.shape[:2]
        if box is None and mask is None:
            raise InputError("init needs box=(x, y, w, h) or mask=(H, W) array")
        init_mask = None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (height, width):
                raise InputError(f"mask shape {mask.shape}: expected {(height, width)}, the frame's height and "
                                 f"width, one channel")
            if not mask.any():
                raise InputError("the initial mask is empty")
            init_mask = torch.from_numpy(mask > 0).float().to(self.device)
            if box is None:
                box = mask_to_box(init_mask)
        box = self._check_box(box, height, width)
        if mask is not None:
            x, y, w, h = (int(round(v)) for v in box)
            if not mask[y : y + max(h, 1), x : x + max(w, 1)].any():
                raise InputError(f"the box {box} and the mask disagree: no mask pixel lies inside the box "
                                 f"(give the mask alone, and its box is used)")
        image = frame_to_tensor(frame, self.device)
        self._init_state(image, box)
        self._init_classifier(image)
        features = None
        if init_mask is None:
            if self.box_init == "sta":
                init_mask = predict_init_mask(
                    self.sta, image, box, self.config.sta_search_area_scale, self.config.sta_border_mode
                )
            else:
                init_mask = self._box_mask(box, height, width)
                if self.box_init == "self":
                    init_mask, features = self._self_box_init(image, init_mask)
        self._init_segmentation(image, init_mask, features)
        mask_np = (init_mask > 0).cpu().numpy()
        return FrameResult(box=tuple(box), mask=mask_np, score=float("nan"), found=True, info={"frame": 0})

    def _box_mask(self, box: Box, height: int, width: int) -> torch.Tensor:
        mask = torch.zeros(height, width, device=self.device)
        x, y, w, h = (int(round(v)) for v in box)
        mask[y : y + h, x : x + w] = 1
        return mask

    def _self_box_init(self, image: torch.Tensor, rectangle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """First mask from a box with the tracker's own networks: learn from the rectangle, then
        segment the first frame and keep what lies inside the box. With ``self_init_rounds`` > 1,
        learn again from that mask and segment again, and so on. A round whose mask covers less
        than ``self_init_min_fraction`` of the box is discarded and ends the rounds (the first
        round's fallback is the rectangle itself). Needs the state and the classifier (the
        segmentation uses its scores); only the segmentation learner changes between rounds.
        Returns the ``(H, W)`` mask and the segmentation features of the first frame's crops."""
        self._events, self._branch = [], "box_init"
        crop = self.begin_frame(image, reposition=False)
        crop.backbone = self.net.extract_backbone(self.net.normalize(crop.patch))
        init_features = None
        mask = rectangle
        for _ in range(self.config.self_init_rounds):
            init_features = self._init_segmentation(image, mask, init_features)
            canvas = self._segment_crop(crop)[0]
            new = (canvas > 0).float() * rectangle
            if new.sum() < self.config.self_init_min_fraction * rectangle.sum():
                break
            mask = new
        return mask, init_features

    def _init_state(self, image: torch.Tensor, box: Box) -> None:
        """A fresh :class:`TrackState` at the first frame's box."""
        cfg = self.config
        st = TrackState()
        st.frame_num = 1
        st.image_size = (image.shape[2], image.shape[3])
        x, y, w, h = box
        st.pos = torch.tensor([y + (h - 1) / 2, x + (w - 1) / 2])
        st.target_sz = torch.tensor([h, w])
        search_area = torch.prod(st.target_sz * cfg.search_area_scale).item()
        st.target_scale = math.sqrt(search_area) / self.crop_size.prod().sqrt()
        st.base_target_sz = st.target_sz / st.target_scale
        st.prev_clf_pos = st.pos.clone()
        st.prev_clf_target_sz = st.target_sz.clone()
        st.is_lost_clf = False
        st.target_scales = [st.target_scale]
        st.target_not_found_counter = 0
        self.state = st

    def _init_segmentation(
        self, image: torch.Tensor, init_mask: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Segmentation learner and memory from the first frame and its ``(H, W)`` mask.

        One identity crop, kept inside the image along its major axis (and, with
        ``seg_init_flip``, its mirror image: two initial samples of half weight each). Returns the
        crops' segmentation features ``(n, C, h, w)``; pass them back as ``features`` to learn
        from another mask of the same frame without running the backbone again.
        """
        cfg, st = self.config, self.state
        patch, mask_patch = self._segmentation_init_samples(image, init_mask)
        mask_patch = mask_patch.view(1, 1, *mask_patch.shape[-2:])
        if cfg.seg_init_flip:
            patch = torch.cat([patch, patch.flip(-1)])
            mask_patch = torch.cat([mask_patch, mask_patch.flip(-1)], dim=1)
        n = patch.shape[0]
        if features is None:
            backbone = self.net.extract_backbone(self.net.normalize(patch), features_only=True)
            features = self.net.segmentation_features(backbone)
        labels, weights = self.net.encode_masks(mask_patch)  # (1, n, D, h, w): one image per crop
        learnt = self.net.learn_segmentation(
            features[:, None], labels.transpose(0, 1), weights.transpose(0, 1) / n, cfg.net_opt_iter
        )
        st.seg_filter = learnt.filter
        self.seg_memory = SampleMemory(cfg.sample_memory_size, cfg.learning_rate, cfg.init_samples_minimum_weight, cap_count=True)
        self.seg_memory.initialize(
            {"features": features, "labels": labels[0], "spatial_weights": weights[0]}, torch.full((n,), 1.0 / n)
        )
        self._keep_seg_scores(learnt.scores)
        st.prev_probability = certain_logits(init_mask)  # logits here, probabilities after frame 0
        st.seg_too_small = bool(torch.count_nonzero(init_mask).item() <= cfg.min_mask_area)
        st.is_lost_seg = st.seg_too_small
        return features

    def _segmentation_init_samples(self, image: torch.Tensor, init_mask: torch.Tensor):
        st = self.state
        crop = self.crop_size
        im_sz = torch.tensor(st.image_size, dtype=torch.float32)
        sample_sz = st.target_scale * crop
        shrink = (sample_sz / im_sz).min().clamp(min=1.0)
        sample_sz = sample_sz / shrink
        init_scale = (sample_sz / crop).prod().sqrt()
        tl = st.pos - (sample_sz - 1) / 2
        br = st.pos + sample_sz / 2 + 1
        global_shift = -((-tl).clamp(0) - (br - im_sz).clamp(0)) / init_scale
        init_pos = st.pos.round()
        expanded = (crop * 2).long().float()  # the reference's hard-coded augmentation expansion factor 2
        expanded = expanded + (expanded - crop) % 2
        shift = [int(v) for v in global_shift.long().tolist()]
        out_size = tuple(int(v) for v in crop.tolist())
        patch, _ = sample_patch(image, init_pos, init_scale * expanded, expanded)
        patch = crop_to_output(patch, out_size, shift)
        mask_patch, _ = sample_patch(init_mask.view(1, 1, *init_mask.shape), init_pos, init_scale * expanded, expanded, is_mask=True)
        mask_patch = crop_to_output(mask_patch, out_size, shift)
        return patch, mask_patch

    def _init_classifier(self, image: torch.Tensor) -> None:
        cfg, st, net = self.config, self.state, self.net
        crop = self.crop_size
        st.clf_pos = st.pos.clone()
        st.clf_target_sz = st.target_sz.clone()
        search_area = torch.prod(st.target_sz * cfg.search_area_scale).item()
        st.clf_target_scale = math.sqrt(search_area) / crop.prod().sqrt()
        st.clf_base_target_sz = st.target_sz / st.clf_target_scale
        im_sz = torch.tensor(st.image_size, dtype=torch.float32)
        st.clf_min_scale = float(torch.max(cfg.clf_min_target_size_px / st.clf_base_target_sz))
        st.clf_max_scale = float(torch.min(im_sz / st.clf_base_target_sz))
        # The reference only special-cases the exact mode 'inside' here, so 'inside_major' falls
        # through to a replicate-padded crop around the rounded position (spec §7 item 9).
        sample_pos = st.pos.round()
        sample_scale = st.clf_target_scale
        patch, _ = sample_patch(image, sample_pos, sample_scale * crop, crop)
        patches = [patch]
        if cfg.clf_use_augmentation:
            if cfg.clf_augmentation_fliplr:
                patches.append(patch.flip((3,)))
            patches += [gaussian_blur(patch, tuple(float(s) for s in sigma)) for sigma in cfg.clf_augmentation_blur]
        patches = torch.cat(patches)
        backbone = net.extract_backbone(net.normalize(patches), features_only=True)
        z = net.classification_features(backbone)
        n = z.shape[0]
        box = box_in_crop(st.pos, st.target_sz, sample_pos, torch.as_tensor(sample_scale), crop)
        boxes = box.view(1, 4).repeat(n, 1)
        feat_sz = self.clf_feature_sz
        st.clf_sigma = float((feat_sz / crop * st.clf_base_target_sz).prod().sqrt() * cfg.clf_output_sigma_factor)
        label = self._clf_label(st.pos, sample_pos, sample_scale)
        labels = label.view(1, 1, *label.shape).repeat(n, 1, 1, 1)
        f0 = net.init_classifier(z[:, None], boxes[:, None].to(z.device))
        st.clf_filter = net.learn_classifier(f0, z[:, None], labels, cfg.clf_net_opt_iter).filter
        self.clf_memory = SampleMemory(cfg.clf_sample_memory_size, cfg.clf_learning_rate, None, cap_count=False)
        self.clf_memory.initialize(
            {"features": z, "labels": labels, "boxes": boxes.to(z.device)}, torch.full((n,), 1.0 / n)
        )

    def _clf_label(self, target_pos: torch.Tensor, sample_pos: torch.Tensor, sample_scale) -> torch.Tensor:
        feat = tuple(int(v) for v in self.clf_feature_sz.tolist())
        crop = tuple(int(v) for v in self.crop_size.tolist())
        kernel = tuple(int(v) for v in self.clf_kernel)
        center = label_center(target_pos, sample_pos, sample_scale, feat, crop, kernel)
        return gaussian_label(feat, self.state.clf_sigma, center, kernel).to(self.device)

    # ------------------------------------------------------------------------------------ track
    @torch.no_grad()
    def track(self, frame: np.ndarray) -> FrameResult:
        """Track the target into ``frame`` (``(H, W, 3)`` uint8 RGB, same size as the first frame)."""
        if self.state is None:
            raise InputError("track() called before init(): call tracker.init(frame, box=(x, y, w, h)) first")
        check_frame(frame, self.state.image_size)
        image = frame_to_tensor(frame, self.device)
        crop = self.begin_frame(image)
        crop.backbone = self.net.extract_backbone(self.net.normalize(crop.patch))
        raw, result = self.end_frame(image, crop)
        self.set_previous_probability(self._probability)  # = sigmoid(raw), computed by end_frame
        return result

    # The three steps of ``track``, public so that a caller can run the backbone itself, e.g. once
    # on the crops of several objects (``MultiTracker``), and feed back a probability map of its
    # own (the multi-object soft aggregation). Call them under ``torch.no_grad()``:
    #     crop = tracker.begin_frame(image)                  # image = tracker.frame_tensor(frame)
    #     crop.backbone = net.extract_backbone(net.normalize(crop.patch))
    #     raw, result = tracker.end_frame(image, crop)
    #     tracker.set_previous_probability(torch.sigmoid(raw))   # or any (H, W) map in [0, 1]

    def frame_tensor(self, frame: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` uint8 RGB frame -> ``(1, 3, H, W)`` float tensor on the tracker's device
        (checked against the first frame's size when tracking has started)."""
        check_frame(frame, self.state.image_size if self.state is not None else None)
        return frame_to_tensor(frame, self.device)

    def set_previous_probability(self, prob: torch.Tensor) -> None:
        """Set the map P the next ``begin_frame`` learns from and repositions with (spec §4.5
        step 1): ``(H, W)`` float, full image, target probability in [0, 1] (``track`` uses
        ``sigmoid`` of its own logits; ``MultiTracker`` the soft-aggregated probability)."""
        if self.state is None:
            raise InputError("set_previous_probability() called before init()")
        if tuple(prob.shape) != tuple(self.state.image_size):
            raise InputError(f"probability map has shape {tuple(prob.shape)}, expected the frame size {self.state.image_size}")
        self.state.prev_probability = prob.to(self.device, torch.float32)

    def begin_frame(self, image: torch.Tensor, reposition: bool = True) -> SearchCrop:
        """Steps 1-4 of a frame: memory update and optimisation with the previous output, search
        region update, and the new search crop. ``image`` is ``(1, 3, H, W)`` RGB float (see
        :meth:`frame_tensor`). The caller fills the returned crop's ``backbone`` and passes it to
        :meth:`end_frame`. With ``reposition=False`` only the crop at the current state is made
        (no frame is counted)."""
        cfg, st = self.config, self.state
        if not reposition:
            return self._search_crop(image)
        st.frame_num += 1
        t = st.frame_num
        events: list[dict] = []
        self._events = events
        prob = st.prev_probability
        force = t < cfg.alr_init_buff
        safe = force or (not st.is_lost_seg and not st.is_lost_clf)
        if t > 2 and safe and cfg.update_target_model:
            if (t - 1) % cfg.train_sample_interval == 0 or force:
                mask_crop, _ = sample_patch(
                    prob.view(1, 1, *prob.shape), st.prev_sample_loc, st.prev_target_scale * self.crop_size,
                    self.crop_size, mode=cfg.border_mode, max_scale_change=cfg.patch_max_scale_change, is_mask=True,
                )
                labels, weights = self.net.encode_masks(mask_crop.view(1, 1, *mask_crop.shape[-2:]))
                slot = self.seg_memory.add({"features": st.prev_seg_features, "labels": labels[0], "spatial_weights": weights[0]})
                self._unscored_slots.add(slot)
                events.append({"call": "seg_update_memory"})
            if (t - 1) % cfg.train_skipping == 0 or force:
                self._update_segmentation_model(cfg.net_opt_update_iter)
                events.append({"call": "seg_update_target_model", "num_iter": cfg.net_opt_update_iter})
        self._reposition(prob)
        return self._search_crop(image)

    def _search_crop(self, image: torch.Tensor) -> SearchCrop:
        cfg, st = self.config, self.state
        center = st.pos + ((self.seg_feature_sz + self.seg_kernel) % 2) * st.target_scale * self.crop_size / (2 * self.seg_feature_sz)
        patch, coords = sample_patch(
            image, center, st.target_scale * self.crop_size, self.crop_size,
            mode=cfg.border_mode, max_scale_change=cfg.patch_max_scale_change,
        )
        sample_pos, sample_scale = sample_location(coords, self.crop_size)
        self._crop_center = center
        return SearchCrop(patch=patch, coords=coords, sample_pos=sample_pos, sample_scale=sample_scale)

    def _update_segmentation_model(self, num_iter: int) -> None:
        mem = self.seg_memory
        n = mem.size
        weights = mem.get("spatial_weights") * mem.weights[:n].to(self.device).view(-1, 1, 1, 1)
        init_scores = None
        if mem.has("scores"):  # kept by the last update: only the samples added since need a product
            slots = sorted(self._unscored_slots)
            if slots:
                added = mem.get("features")[slots][:, None]
                mem.set("scores", self.net.apply_target_model(self.state.seg_filter, added)[:, 0], slots)
            init_scores = mem.get("scores")[:, None]
        learnt = self.net.learn_segmentation(
            mem.get("features")[:, None], mem.get("labels")[:, None], weights[:, None], num_iter,
            init_filter=self.state.seg_filter, init_scores=init_scores,
        )
        self.state.seg_filter = learnt.filter
        self._keep_seg_scores(learnt.scores)

    def _keep_seg_scores(self, scores: torch.Tensor | None) -> None:
        """Keep the memory samples' scores under the current filter, ``(n, 1, D, h, w)``, for the
        next update to start from (the learner has them for free by linearity): it then computes
        the product only for the samples added in between. None (no fast path): forget them."""
        self._unscored_slots = set()
        if scores is None:
            self.seg_memory.drop("scores")
        else:
            self.seg_memory.set("scores", scores[:, 0])

    def _reposition(self, prob: torch.Tensor) -> None:
        """Step 3: where to search in this frame, from the previous frame's two branches."""
        cfg, st = self.config, self.state
        no_seg = st.seg_too_small or st.is_lost_seg
        if st.is_lost_clf and no_seg:
            self._branch = "both_lost:rescale_search_area"
            self._rescale_when_lost()
        elif no_seg and cfg.trust_clf_when_no_seg:
            self._branch = "no_seg:trust_clf_pos_size"
            st.pos = st.prev_clf_pos.clone()
            st.target_sz = st.prev_clf_target_sz.clone()
            self._update_scale()
        elif not st.is_lost_clf and not no_seg:
            self._branch = "seg_ok_clf_ok:pos_size_from_seg_var"
            self._events.append({"call": "seg_get_target_state"})
            st.pos, st.target_sz = self._target_state_from_probability(prob)
            self._update_scale()
        else:
            self._branch = "clf_lost_seg_ok:no_update(rescale_lost)"
            self._rescale_when_lost()

    def _target_state_from_probability(self, prob: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """'var' mode: centre of mass and ``seg_to_bb_sz_factor`` standard deviations of the map
        (of its part near the mask with ``search_state_margin``)."""
        st = self.state
        rows_in, cols_in = slice(0, prob.shape[-2]), slice(0, prob.shape[-1])
        if self.config.search_state_margin is not None:
            rows_in, cols_in = _near_mask(prob, self.config.search_state_margin)
        q = prob[rows_in, cols_in].clamp(min=0).float()
        total = q.sum()
        rows = q.sum(dim=-1)
        cols = q.sum(dim=-2)
        ry = torch.arange(rows_in.start, rows_in.start + q.shape[-2], dtype=torch.float32, device=q.device)
        rx = torch.arange(cols_in.start, cols_in.start + q.shape[-1], dtype=torch.float32, device=q.device)
        e_y = torch.sum(rows * ry) / total
        e_x = torch.sum(cols * rx) / total
        v_y = torch.sum(rows * (ry - e_y) ** 2) / total
        v_x = torch.sum(cols * (rx - e_x) ** 2) / total
        if not (bool(v_y > 0) and bool(v_x > 0)):
            return st.pos, st.target_sz
        factor = self.config.seg_to_bb_sz_factor
        return (
            torch.stack([e_y, e_x]).cpu(),
            torch.stack([v_y.sqrt() * factor, v_x.sqrt() * factor]).cpu(),
        )

    def _update_scale(self) -> None:
        cfg, st = self.config, self.state
        self._events.append({"call": "rescaling_update", "is_lost": False})
        new_scale = torch.sqrt(st.target_sz.prod() / st.base_target_sz.prod())
        low, high = cfg.max_scale_change
        if new_scale / st.target_scale < low:
            new_scale = low * st.target_scale
        elif new_scale / st.target_scale > high:
            new_scale = high * st.target_scale
        st.target_scale = new_scale
        st.target_sz = st.base_target_sz * new_scale
        st.target_scales.append(new_scale)
        st.target_not_found_counter = 0

    def _rescale_when_lost(self) -> None:
        cfg, st = self.config, self.state
        self._events.append({"call": "rescaling_update", "is_lost": True})
        if not cfg.rescale_when_lost:
            return
        self._events.append({"call": "search_area_rescaling"})
        st.target_not_found_counter += 1
        k = max(2, min(30, st.target_not_found_counter))
        recent = st.target_scales[-60:]
        larger = [s for s in recent if s >= recent[-1]]
        st.target_scale = torch.mean(torch.stack([torch.as_tensor(s) for s in larger[-k:]]))

    def end_frame(self, image: torch.Tensor, crop: SearchCrop) -> tuple[torch.Tensor, FrameResult]:
        """Steps 5-10: both branches on the crop's backbone features, outputs and classifier update.

        Returns the full-image logits ``(H, W)`` (``-sampling.CERTAIN_LOGIT`` outside the crop) and the frame result.
        The next frame needs its P: call :meth:`set_previous_probability` before the next
        ``begin_frame`` (``track`` does it with ``sigmoid`` of these logits).
        """
        cfg, st = self.config, self.state
        canvas, window, scores, x_seg, z = self._segment_crop(crop)
        self._probability, mask, box = probability_and_mask(canvas, window)
        prob_sum = float(self._probability.sum())
        st.is_lost_seg = box == (0.0, 0.0, 1.0, 1.0)
        st.seg_too_small = prob_sum <= cfg.min_mask_area
        x, y, w, h = box
        seg_pos = torch.tensor([y + (h - 1) / 2, x + (w - 1) / 2])
        seg_sz = torch.tensor([h, w])
        seg_scale = math.sqrt(torch.prod(seg_sz * cfg.search_area_scale).item()) / self.crop_size.prod().sqrt()

        max_score, flag, clf_box = self._update_instance_branch(scores[0, 0], z, crop, seg_pos, seg_sz, seg_scale)
        st.prev_clf_pos = st.clf_pos.clone()
        st.prev_clf_target_sz = st.clf_target_sz.clone()
        st.prev_sample_loc = self._crop_center
        st.prev_target_scale = st.target_scale
        st.prev_seg_features = x_seg

        no_mask = st.is_lost_seg or st.seg_too_small
        out_box = clf_box if (no_mask and cfg.use_clf_box_when_no_seg) else box
        found = not (no_mask and st.is_lost_clf)
        tl = crop.coords.view(4)
        info = {
            "frame": st.frame_num - 1,
            "clf_flag": flag,
            "clf_max_score": max_score,
            "clf_box": clf_box,
            "search_area": (float(tl[1]), float(tl[0]), float(tl[3] - tl[1] - 1), float(tl[2] - tl[0] - 1)),
            "is_lost_seg": st.is_lost_seg,
            "seg_too_small": st.seg_too_small,
            "is_lost_clf": st.is_lost_clf,
            "reposition_branch": self._branch,
            "events": self._events,
            "seg_prob_sum": prob_sum,
            "pos_yx": [float(v) for v in st.pos],
            "target_sz_hw": [float(v) for v in st.target_sz],
            "target_scale": float(st.target_scale),
            "seg_memory": {"num_stored": self.seg_memory.num_stored, "replace_ind": self.seg_memory.previous_replace},
            "clf_memory": {"num_stored": self.clf_memory.num_stored, "replace_ind": self.clf_memory.previous_replace},
        }
        result = FrameResult(box=tuple(float(v) for v in out_box), mask=mask.cpu().numpy(), score=max_score, found=found, info=info)
        return canvas, result

    def _segment_crop(self, crop: SearchCrop):
        """Both branches on a crop: full-image logits ``(H, W)`` and the window of them the crop
        covers (:func:`paste_scores`), DiMP scores ``(1, 1, h, w)``, segmentation features
        ``(1, C, h', w')`` and DiMP features ``(1, C', h'', w'')``."""
        net, st = self.net, self.state
        x_seg = net.segmentation_features(crop.backbone)
        z = net.classification_features(crop.backbone)
        scores = net.classify(st.clf_filter, z[None])
        logits = net.segment(
            st.seg_filter, x_seg[None], crop.backbone, net.encode_scores(scores), tuple(crop.patch.shape[-2:])
        ).float()
        if self.config.mask_component_margin is not None:
            center = self._expected_center_in_crop(scores[0, 0].float(), crop)
            size = st.target_sz / crop.sample_scale
            logits = keep_target_components(
                logits[0, 0], center.tolist(), size.tolist(), self.config.mask_component_margin
            ).view_as(logits)
        canvas, window = paste_scores(logits, st.image_size, crop.sample_pos, crop.sample_scale)
        return canvas, window, scores.float(), x_seg, z

    def _expected_center_in_crop(self, scores: torch.Tensor, crop: SearchCrop) -> torch.Tensor:
        """Where the target should be in the crop, ``(y, x)`` crop pixels: the peak of the DiMP
        scores ``(h, w)`` when it finds the target, else the position predicted from the
        previous frame (the state's)."""
        s = scores.cpu()
        peak, disp = _max2d(s)
        if float(peak) >= self.config.clf_target_not_found_threshold:
            return (self.crop_size - 1) / 2 + self._score_offset(disp, s.shape)
        return (self.state.pos - crop.sample_pos) / crop.sample_scale + (self.crop_size - 1) / 2

    def _score_offset(self, disp: torch.Tensor, score_shape: tuple[int, ...]) -> torch.Tensor:
        """Offset ``(y, x)`` in crop pixels of score-map cell ``disp`` from the crop centre."""
        center = (torch.tensor(score_shape, dtype=torch.float32) - 1) / 2
        return (disp.float() - center) * (self.crop_size / self.clf_feature_sz)

    # ------------------------------------------------------------------------------------ DiMP
    def _localize(self, scores: torch.Tensor, sample_pos: torch.Tensor, sample_scale: torch.Tensor):
        """Peak of the score map -> (translation in image pixels (y, x), flag) (``localize_advanced``)."""
        cfg, st = self.config, self.state
        sz = torch.tensor(scores.shape, dtype=torch.float32)
        center = (sz - 1) / 2
        out_sz = self.clf_feature_sz
        stride = self.crop_size / out_sz
        s = scores.cpu()
        max1, disp1 = _max2d(s)
        translation1 = self._score_offset(disp1, s.shape) * sample_scale
        if float(max1) < cfg.clf_target_not_found_threshold:
            return translation1, "not_found", float(max1)
        neigh = cfg.clf_target_neighborhood_scale * (st.clf_target_sz / sample_scale) * (out_sz / self.crop_size)
        top = max(round(float(disp1[0]) - float(neigh[0]) / 2), 0)
        bottom = min(round(float(disp1[0]) + float(neigh[0]) / 2 + 1), int(sz[0]))
        left = max(round(float(disp1[1]) - float(neigh[1]) / 2), 0)
        right = min(round(float(disp1[1]) + float(neigh[1]) / 2 + 1), int(sz[1]))
        masked = s.clone()
        masked[top:bottom, left:right] = 0
        max2, disp2 = _max2d(masked)
        if float(max2) > cfg.clf_distractor_threshold * float(max1) and float(max2) > cfg.clf_target_not_found_threshold:
            translation2 = self._score_offset(disp2, s.shape) * sample_scale
            prev_vec = (st.clf_pos - sample_pos) / (stride * sample_scale)
            norm1 = torch.sqrt(torch.sum((disp1.float() - center - prev_vec) ** 2))
            norm2 = torch.sqrt(torch.sum((disp2.float() - center - prev_vec) ** 2))
            threshold = cfg.clf_displacement_scale * math.sqrt(float(sz[0] * sz[1])) / 2
            if norm2 > threshold and norm1 < threshold:
                return translation1, "hard_negative", float(max1)
            if norm2 < threshold and norm1 > threshold:
                return translation2, "hard_negative", float(max1)
            return translation1, "uncertain", float(max1)
        if float(max2) > cfg.clf_hard_negative_threshold * float(max1) and float(max2) > cfg.clf_target_not_found_threshold:
            return translation1, "hard_negative", float(max1)
        return translation1, "normal", float(max1)

    def _update_instance_branch(self, scores, z, crop: SearchCrop, seg_pos, seg_sz, seg_scale):
        cfg, st = self.config, self.state
        translation, flag, max_score = self._localize(scores, crop.sample_pos, crop.sample_scale)
        mask_ok = not st.is_lost_seg and not st.seg_too_small
        if mask_ok:
            st.clf_pos, st.clf_target_scale, st.clf_target_sz = seg_pos, seg_scale, seg_sz
        elif flag != "not_found":
            new_pos = crop.sample_pos + translation
            st.clf_target_scale = torch.as_tensor(crop.sample_scale).clamp(st.clf_min_scale, st.clf_max_scale)
            st.clf_target_sz = st.clf_base_target_sz * st.clf_target_scale
            inside = (cfg.target_inside_ratio - 0.5) * st.clf_target_sz
            im_sz = torch.tensor(st.image_size, dtype=torch.float32)
            st.clf_pos = torch.max(torch.min(new_pos, im_sz - inside), inside)
        sz = st.clf_target_sz
        clf_box = (
            float(st.clf_pos[1] - (sz[1] - 1) / 2),
            float(st.clf_pos[0] - (sz[0] - 1) / 2),
            float(sz[1]),
            float(sz[0]),
        )
        if flag not in ("not_found", "uncertain") and cfg.update_classifier:
            self._update_classifier(z, crop, flag)
        st.is_lost_clf = flag == "not_found"
        return max_score, flag, clf_box

    def _update_classifier(self, z: torch.Tensor, crop: SearchCrop, flag: str) -> None:
        cfg, st = self.config, self.state
        hard = flag == "hard_negative"
        self._events.append({"call": "clf_update_classifier", "hard_negative_lr": cfg.clf_hard_negative_learning_rate if hard else None})
        label = self._clf_label(st.clf_pos, crop.sample_pos, crop.sample_scale)
        box = box_in_crop(st.clf_pos, st.clf_target_sz, crop.sample_pos, crop.sample_scale, self.crop_size)
        lr = cfg.clf_hard_negative_learning_rate if hard else cfg.clf_learning_rate
        self.clf_memory.add({"features": z, "labels": label.view(1, 1, *label.shape), "boxes": box.view(1, 4).to(z.device)}, lr)
        self._events.append({"call": "clf_update_memory"})
        t = st.frame_num
        if hard:
            num_iter = cfg.clf_net_opt_hn_iter
        elif (t - 1) % cfg.clf_train_skipping == 0 or t < cfg.clf_alr_init_buff:
            num_iter = cfg.clf_net_opt_update_iter
        else:
            num_iter = 0
        if num_iter > 0:
            mem = self.clf_memory
            n = mem.size
            st.clf_filter = self.net.learn_classifier(
                st.clf_filter, mem.get("features")[:, None], mem.get("labels"), num_iter,
                sample_weight=mem.weights[:n].to(self.device),
            ).filter
            self._events.append({"call": "clf_filter_optimizer", "num_iter": num_iter})

    def reset(self) -> None:
        """Forget the target; ``init`` must be called again."""
        self.state = None
        self.seg_memory = None
        self.clf_memory = None


def _near_mask(prob: torch.Tensor, margin: float) -> tuple[slice, slice]:
    """Rows and columns of the ``(H, W)`` map within ``margin`` box sizes of the box of its mask
    (``prob > 0.5``); the whole map when the mask is empty."""
    x, y, w, h = mask_to_box(prob > 0.5)
    if (x, y, w, h) == (0.0, 0.0, 1.0, 1.0):
        return slice(0, prob.shape[-2]), slice(0, prob.shape[-1])
    top, left = max(int(y - margin * h), 0), max(int(x - margin * w), 0)
    return slice(top, int(y + h + margin * h) + 1), slice(left, int(x + w + margin * w) + 1)


def _max2d(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum of a 2-D map and its (row, col): column-wise max first, then over columns (``dcf.max2d``)."""
    col_max, row_idx = torch.max(scores, dim=-2)
    value, col = torch.max(col_max, dim=-1)
    row = row_idx[col]
    return value, torch.stack([row, col])


def build_tracker(
    weights: str | Path | None = None,
    sta: str | Path | None = None,
    device: str | torch.device | None = "cpu",
    settings: Sequence[str] = (),
) -> Tracker:
    """The tracker the command line builds: the packaged model with its own settings when
    ``weights`` is None, else ``weights`` (+ ``sta``) with the reference settings; the
    ``KEY=VALUE`` ``settings`` (``--set``) go on top of either."""
    if weights is None:
        return Tracker.from_pretrained(device=device, config=resolve_tracker_config(settings, pretrained="default"))
    return Tracker.from_checkpoint(weights, sta=sta, device=device, config=resolve_tracker_config(settings))
