"""Training videos and the RTS frame sampler (spec §5.1, ``LWLSampler``).

A *training video* is anything with ``name``, ``visible`` (``(N,)`` bool) and
``get_frame(i) -> Frame``; :class:`SequenceVideo` adapts a :class:`rtstrack.data.Sequence`
(optionally with a pseudo-mask folder), :mod:`rtstrack.train.synthetic` makes them from still images.

Every sample is a pure function of ``(seed, epoch, index)``: :class:`TrainingSamples` seeds a
``numpy.random.Generator`` with these three numbers. Resuming, DDP splits and the number of loader
workers therefore never change which samples are drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from rtstrack.data.sequence import Sequence, box_visible
from rtstrack.errors import DatasetError
from rtstrack.train.processing import Frame, RTSProcessing
from rtstrack.train.recipes import SamplerConfig


class TrainVideo(Protocol):
    name: str
    visible: np.ndarray

    def __len__(self) -> int: ...

    def get_frame(self, index: int) -> Frame: ...


class SequenceVideo:
    """A :class:`Sequence` seen as a training video with masks.

    Args:
        seq: the sequence (frames, boxes, optional masks).
        pseudo_masks: folder with ``<seq.name>/<frame stem>.png`` masks for box-only sequences
            (used where the sequence has no mask for a frame).
        skip_interval / max_frames: keep frames ``0, k, 2k, ...`` among the first ``max_frames``
            (LaSOT: ``k=5``, 1000 frames); ``max_gap`` then counts kept frames.

    A frame is visible when its box is valid and a mask exists for it. Indexed masks with a single
    ``object_ids`` entry are binarised as ``mask == id``; otherwise as ``mask > 0``.
    """

    def __init__(
        self, seq: Sequence, pseudo_masks: Path | str | None = None, skip_interval: int = 1, max_frames: int | None = None
    ) -> None:
        self.seq = seq
        self.name = f"{seq.dataset}/{seq.name}" if seq.dataset else seq.name
        n = len(seq) if max_frames is None else min(len(seq), max_frames)
        self.ids = list(range(0, n, max(1, skip_interval)))
        self.mask_paths: list[Path | None] = []
        pm_dir = Path(pseudo_masks) / seq.name if pseudo_masks else None
        for i in self.ids:
            path = seq.masks[i] if seq.masks is not None else None
            if path is None and pm_dir is not None:
                cand = pm_dir / f"{Path(seq.frames[i]).stem}.png"
                path = cand if cand.is_file() else None
            self.mask_paths.append(path)
        has_mask = np.array([p is not None for p in self.mask_paths], dtype=bool)
        self.visible = box_visible(seq.boxes[self.ids]) & has_mask

    def __len__(self) -> int:
        return len(self.ids)

    def get_frame(self, index: int) -> Frame:
        i = self.ids[index]
        image = self.seq.read_frame(i)
        path = self.mask_paths[index]
        if path is None:
            raise DatasetError(f"{self.name}: frame {i} has no mask (neither in the dataset nor pseudo-masks)")
        own = self.seq.masks is not None and self.seq.masks[i] is not None
        if own and getattr(self.seq, "mask_reader", None) is not None:
            arr = self.seq.read_mask(i)  # the reader's per-object 0/1 mask
            ids = None
        else:
            from PIL import Image

            with Image.open(path) as im:
                arr = np.array(im)
            if arr.ndim == 3:
                arr = arr[..., 0]
            ids = self.seq.object_ids if own else None
        mask = (arr == ids[0]) if ids is not None and len(ids) == 1 else (arr > 0)
        if mask.shape != image.shape[:2]:
            raise DatasetError(f"{path}: mask is {mask.shape}, frame is {image.shape[:2]}; expected the same size")
        return Frame(image=image, mask=mask.astype(np.uint8), box=np.asarray(self.seq.boxes[i], dtype=np.float64))


def _visible_ids(visible: np.ndarray, min_id: int, max_id: int) -> np.ndarray:
    """Visible indices in ``[max(min_id, 0), min(max_id, N))``."""
    lo, hi = max(min_id, 0), min(max_id, len(visible))
    if hi <= lo:
        return np.zeros(0, dtype=np.int64)
    return lo + np.flatnonzero(visible[lo:hi])


class FrameSampler:
    """``LWLSampler``: pick a dataset by weight, a sequence with enough visible frames, then one
    base (train) frame and ``num_test_frames`` later test frames within ``max_gap``.

    * base: uniform over visible ids in ``[0, N - num_test_frames)``; a visible frame must exist in
      ``[base - max_gap - gap, base)`` (so the base is never the first visible frame), else
      ``gap += 5`` and the base is redrawn;
    * test: ``num_test_frames`` draws **with replacement** among visible ids in
      ``(base, base + max_gap + gap)``, sorted; if none, ``gap += 5`` and retry.
    """

    def __init__(self, datasets: list[list[TrainVideo]], weights: list[float], cfg: SamplerConfig) -> None:
        if len(datasets) != len(weights) or not datasets:
            raise DatasetError(f"need one weight per dataset and at least one dataset, got {len(datasets)}/{len(weights)}")
        self.cfg = cfg
        self.min_visible = cfg.min_visible_factor * (cfg.num_train_frames + cfg.num_test_frames)
        self.datasets = []
        kept_w = []
        for videos, w in zip(datasets, weights):
            ok = [v for v in videos if int(np.sum(v.visible)) > self.min_visible]
            if ok and w > 0:
                self.datasets.append(ok)
                kept_w.append(float(w))
        if not self.datasets:
            raise DatasetError(
                f"no training sequence has more than {self.min_visible} visible frames with masks; "
                "check the data root, the masks and the pseudo-mask folders"
            )
        self.p = np.asarray(kept_w) / np.sum(kept_w)

    def _sample_in_video(self, visible: np.ndarray, rng: np.random.Generator) -> tuple[list[int], list[int]] | None:
        cfg = self.cfg
        n = len(visible)
        gap = 0
        while gap <= cfg.max_gap_increase:
            base_cands = _visible_ids(visible, 0, n - cfg.num_test_frames - cfg.num_train_frames + 1)
            if len(base_cands) == 0:
                return None
            base = int(rng.choice(base_cands))
            prev = _visible_ids(visible, base - cfg.max_gap - gap, base)
            if len(prev) == 0:
                gap += cfg.gap_increase_step
                continue
            train_ids = [base] + [int(x) for x in rng.choice(prev, size=cfg.num_train_frames - 1)]
            test_cands = _visible_ids(visible, train_ids[0] + 1, train_ids[0] + cfg.max_gap + gap)
            gap += cfg.gap_increase_step
            if len(test_cands) == 0:
                continue
            test_ids = sorted(int(x) for x in rng.choice(test_cands, size=cfg.num_test_frames, replace=True))
            return sorted(train_ids), test_ids
        return None

    def sample(self, rng: np.random.Generator, max_tries: int = 100) -> tuple[TrainVideo, list[int], list[int]]:
        """Draw ``(video, train_ids, test_ids)``."""
        for _ in range(max_tries):
            videos = self.datasets[int(rng.choice(len(self.datasets), p=self.p))]
            video = videos[int(rng.integers(len(videos)))]
            ids = self._sample_in_video(np.asarray(video.visible, dtype=bool), rng)
            if ids is not None:
                return video, ids[0], ids[1]
        raise DatasetError(f"could not sample frames in {max_tries} tries; sequences are too short or rarely visible")


class TrainingSamples(torch.utils.data.Dataset):
    """Map-style dataset: ``samples[i]`` is the processed sample ``i`` of the current epoch.

    Each item is the dict of :class:`RTSProcessing` plus ``index`` (int) and ``sequence`` (str).
    """

    def __init__(self, sampler: FrameSampler, processing: RTSProcessing, num_samples: int, seed: int = 0) -> None:
        self.sampler = sampler
        self.processing = processing
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        video, train_ids, test_ids = self.sampler.sample(rng)
        cache: dict[int, Frame] = {}
        for i in set(train_ids + test_ids):
            cache[i] = video.get_frame(i)
        out = self.processing([cache[i] for i in train_ids], [cache[i] for i in test_ids], rng)
        out["index"] = int(index)
        out["sequence"] = f"{video.name}:{','.join(map(str, train_ids + test_ids))}"
        return out


def collate_sequences(items: list[dict]) -> dict:
    """Stack samples along dim 1 (``(frames, B, ...)``), as the reference's ``stack_dim=1`` loader."""
    out: dict = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if isinstance(values[0], np.ndarray):
            out[key] = torch.from_numpy(np.stack(values, axis=1))
        elif isinstance(values[0], int):
            out[key] = torch.tensor(values, dtype=torch.int64)
        else:
            out[key] = values
    return out


class RankBatchSampler(torch.utils.data.Sampler):
    """Index batches of one rank for one epoch, ``DistributedSampler``-style but deterministic.

    Global optimiser step ``s`` uses samples ``[s*B, (s+1)*B)`` of the epoch (``B`` = global batch);
    micro-step ``a`` of ``A`` accumulation steps and rank ``r`` of ``R`` take the contiguous slice
    ``a*R + r`` of size ``B/(A*R)``. Starting at ``start_step`` resumes mid-epoch.
    """

    def __init__(self, num_steps: int, global_batch: int, rank: int = 0, world_size: int = 1, accum_steps: int = 1, start_step: int = 0) -> None:
        parts = world_size * accum_steps
        if global_batch % parts:
            raise DatasetError(
                f"batch size {global_batch} is not divisible by world_size*grad_accum_steps = {parts}"
            )
        self.num_steps, self.global_batch = num_steps, global_batch
        self.rank, self.world_size, self.accum_steps = rank, world_size, accum_steps
        self.micro = global_batch // parts
        self.start_step = start_step

    def __len__(self) -> int:
        return (self.num_steps - self.start_step) * self.accum_steps

    def __iter__(self):
        for step in range(self.start_step, self.num_steps):
            for a in range(self.accum_steps):
                first = step * self.global_batch + (a * self.world_size + self.rank) * self.micro
                yield list(range(first, first + self.micro))
