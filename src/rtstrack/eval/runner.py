"""Run a tracker over a dataset: parallel, resumable, shardable.

Work is split into tasks ``(run, sequence)``. Each task writes its files atomically and then a
``.done`` marker (see :mod:`rtstrack.eval.results`), so a killed evaluation resumes where it
stopped: completed sequences are skipped, a sequence that was in progress is run again from its
first frame and its files are replaced whole.

Backends: ``local`` (``workers`` spawn-context processes, each building its own tracker; with one
worker everything runs in this process) and ``ray`` (``workers`` Ray actors; the results folder must
be on a filesystem all nodes see).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue as queue_mod
import random
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rtstrack.data.registry import dataset_info, get_dataset
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError, InputError
from rtstrack.eval.results import (
    DONE_DIR,
    ResultsError,
    RunFolder,
    atomic_write_png,
    format_float_boxes,
    format_int_boxes,
    format_times,
    run_folders_for_writing,
)
from rtstrack.eval.trackers import TrackerSpec, new_tracker
from rtstrack.files import atomic_write_text, check_output_folder
from rtstrack.types import mask_box, normalize_output

PROGRESS_EVERY_FRAMES = 10
"""Workers report frame progress to the main process in batches of this many frames."""
POLL_SECONDS = 0.2
META_FILE = "eval.json"


@dataclass
class EvalConfig:
    """Everything one evaluation needs; picklable (it is sent to every worker).

    Attributes:
        dataset: registry name (``rtstrack.data.list_datasets()``) or alias.
        root: dataset root folder.
        out: results folder (one run folder, or ``run_XXX`` sub-folders when ``runs > 1``).
        tracker: which tracker to build (see :class:`TrackerSpec`).
        split: dataset split; None for the evaluation split.
        dataset_kwargs: extra reader keywords.
        sequences: evaluate only these sequence names (None: all).
        runs: repetitions (run ids 0..runs-1; each run seeds numpy/random/torch with its id).
        workers: parallel workers (processes or Ray actors).
        shard: ``(i, n)``: this invocation runs the i-th of n interleaved slices of the sequences
            (0-based ``i``).
        resume: skip sequences whose ``.done`` marker exists.
        backend: ``"local"`` or ``"ray"``.
        address: Ray cluster address (``ray.init(address=...)``), e.g. ``"auto"``.
        init: ``"box"`` (initial box) or ``"mask"`` (initial ground-truth mask, VOS style).
        save_masks: write the tracker's masks as indexed PNGs when it outputs any.
        threads_per_worker: torch/BLAS threads per worker (None: cores // workers, at least 1).
        progress: show tqdm bars (sequences and frames) on stderr.
    """

    dataset: str
    root: str
    out: str
    tracker: TrackerSpec = field(default_factory=TrackerSpec)
    split: str | None = None
    dataset_kwargs: dict = field(default_factory=dict)
    sequences: list[str] | None = None
    runs: int = 1
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    resume: bool = True
    backend: str = "local"
    address: str | None = None
    init: str = "box"
    save_masks: bool = True
    threads_per_worker: int | None = None
    progress: bool = True

    def validate(self) -> None:
        i, n = self.shard
        if n < 1 or not 0 <= i < n:
            raise InputError(f"--shard i/n needs 0 <= i < n, got {i}/{n}")
        if self.workers < 1:
            raise InputError(f"--workers must be >= 1, got {self.workers}")
        if self.init not in ("box", "mask"):
            raise InputError(f"--init must be 'box' or 'mask', got {self.init!r}")
        if self.backend not in ("local", "ray"):
            raise InputError(f"--backend must be 'local' or 'ray', got {self.backend!r}")
        check_output_folder(self.out, "--out")
        run_folders_for_writing(Path(self.out), self.runs)


@dataclass
class TaskResult:
    """What a worker reports for one (run, sequence) task."""

    run: int
    sequence: str
    status: str  # "done" | "skipped" | "failed"
    frames: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class EvalSummary:
    """Counts of one ``run_evaluation`` call."""

    done: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    failed: list[TaskResult] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


# ---------------------------------------------------------------------------------------------
# one sequence
# ---------------------------------------------------------------------------------------------
def _seed(run: int) -> None:
    random.seed(run)
    np.random.seed(run)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(run)


def _check_box(box: np.ndarray, seq: str, frame: int) -> np.ndarray:
    if not np.all(np.isfinite(box)):
        raise ResultsError(f"the tracker returned a non-finite box {box.tolist()} at frame {frame} of {seq!r}")
    return box


def _check_mask(mask: np.ndarray | None, shape: tuple[int, int], seq: str, frame: int) -> np.ndarray | None:
    if mask is not None and mask.shape != shape:
        raise ResultsError(f"the tracker returned a {mask.shape} mask for a {shape} frame (frame {frame} of {seq!r})")
    return mask


def run_single_object(
    seq: Sequence, spec: TrackerSpec, folder: RunFolder, init: str, save_masks: bool, tick: Callable[[int], None]
) -> int:
    """Track one single-object sequence and write its files; returns the frame count."""
    n = len(seq)
    frame = seq.read_frame(0)
    shape = frame.shape[:2]
    init_box = np.asarray(seq.boxes[0], dtype=np.float64)
    gt_mask = seq.read_mask(0) if (init == "mask" or seq.has_masks) else None
    tracker = new_tracker(spec)
    t0 = time.perf_counter()
    if init == "mask":
        if gt_mask is None:
            raise DatasetError(f"--init mask: sequence {seq.name!r} has no mask on its first frame")
        result = tracker.init(frame, mask=gt_mask.astype(bool))
        if not np.all(np.isfinite(init_box)):
            init_box = mask_box(gt_mask)
    else:
        if not np.all(np.isfinite(init_box)):
            raise DatasetError(f"sequence {seq.name!r} has no initial box (first ground-truth row is NaN)")
        result = tracker.init(frame, box=tuple(float(v) for v in init_box))
    times = np.zeros(n)
    times[0] = time.perf_counter() - t0
    out = normalize_output(result, fallback_box=init_box)
    boxes = np.zeros((n, 4))
    boxes[0] = init_box  # pytracking: frame 0 holds the given initial box
    first_mask = out.mask if out.mask is not None else (gt_mask.astype(bool) if gt_mask is not None else None)
    writes_masks = save_masks and out.mask is not None
    if writes_masks:
        atomic_write_png(folder.mask_dir(seq.name) / f"{seq.frames[0].stem}.png", _check_mask(first_mask, shape, seq.name, 0))
    tick(1)
    for i in range(1, n):
        frame = seq.read_frame(i)
        t0 = time.perf_counter()
        out = normalize_output(tracker.track(frame))
        times[i] = time.perf_counter() - t0
        boxes[i] = _check_box(out.box, seq.name, i)
        if writes_masks:
            mask = _check_mask(out.mask, frame.shape[:2], seq.name, i)
            if mask is None:
                mask = np.zeros(frame.shape[:2], dtype=bool)
            atomic_write_png(folder.mask_dir(seq.name) / f"{seq.frames[i].stem}.png", mask.astype(np.uint8))
        tick(1)
    atomic_write_text(folder.float_file(seq.name), format_float_boxes(boxes))
    atomic_write_text(folder.time_file(seq.name), format_times(times))
    atomic_write_text(folder.boxes_file(seq.name), format_int_boxes(boxes))
    return n


def _object_starts(seq: Sequence) -> list[int]:
    starts = seq.extra.get("init_frames")
    if starts is not None and len(starts) == len(seq.object_ids or []):
        return [int(s) for s in starts]
    found: dict[int, int] = {}
    for i in range(len(seq)):
        labels = seq.read_mask(i)
        if labels is None:
            continue
        for obj in seq.object_ids or []:
            if obj not in found and (labels == obj).any():
                found[obj] = i
        if len(found) == len(seq.object_ids or []):
            break
    missing = [o for o in seq.object_ids or [] if o not in found]
    if missing:
        raise DatasetError(f"sequence {seq.name!r}: objects {missing} never appear in its masks")
    return [found[o] for o in seq.object_ids or []]


def run_multi_object(
    seq: Sequence, spec: TrackerSpec, folder: RunFolder, init: str, save_masks: bool, tick: Callable[[int], None]
) -> int:
    """Track every object of a VOS sequence with its own tracker; merge masks into a label map.

    Each object starts on its first annotated frame (from its mask, or from the mask's tight box
    with ``init="box"``). Where predicted masks overlap, the object with the higher frame score
    wins (ties and NaN scores keep the earlier object); on its initial frame an object's given mask
    always wins.
    """
    ids = list(seq.object_ids or [])
    starts = _object_starts(seq)
    n = len(seq)
    trackers: dict[int, Any] = {}
    boxes = {obj: np.zeros((n, 4)) for obj in ids}
    times = {obj: np.zeros(n) for obj in ids}
    for i in range(n):
        frame = seq.read_frame(i)
        shape = frame.shape[:2]
        labels = np.zeros(shape, dtype=np.uint8)
        best = np.full(shape, -np.inf)
        gt = None
        for obj, start in zip(ids, starts):
            if i < start:
                continue
            t0 = time.perf_counter()
            if i == start:
                gt = seq.read_mask(i) if gt is None else gt
                if gt is None:
                    raise DatasetError(f"sequence {seq.name!r}: no annotation on frame {i}, where object {obj} starts")
                given = gt == obj
                trackers[obj] = new_tracker(spec)
                box = mask_box(given)
                if init == "mask":
                    result = trackers[obj].init(frame, mask=given)
                else:
                    result = trackers[obj].init(frame, box=tuple(float(v) for v in box))
                out = normalize_output(result, fallback_box=box)
                out.box, out.mask, score = box, given, np.inf
            else:
                out = normalize_output(trackers[obj].track(frame))
                _check_box(out.box, f"{seq.name}_{obj}", i)
                score = out.score if np.isfinite(out.score) else -np.inf
            times[obj][i] = time.perf_counter() - t0
            boxes[obj][i] = out.box
            mask = _check_mask(out.mask, shape, seq.name, i)
            if mask is not None:
                take = mask & ((labels == 0) | (score > best))
                labels[take] = obj
                best[take] = score
        if save_masks:
            atomic_write_png(folder.mask_dir(seq.name) / f"{seq.frames[i].stem}.png", labels)
        tick(1)
    for obj in ids:
        atomic_write_text(folder.float_file(seq.name, obj), format_float_boxes(boxes[obj]))
        atomic_write_text(folder.time_file(seq.name, obj), format_times(times[obj]))
        atomic_write_text(folder.boxes_file(seq.name, obj), format_int_boxes(boxes[obj]))
    return n


# ---------------------------------------------------------------------------------------------
# tasks and workers
# ---------------------------------------------------------------------------------------------
class _Worker:
    """Per-process state: the dataset (listed once) and the progress channel."""

    def __init__(self, cfg: EvalConfig, progress: Any = None) -> None:
        threads = cfg.threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, cfg.workers))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
        self.threads = threads
        self.cfg = cfg
        self.progress = progress
        self.dataset = get_dataset(cfg.dataset, cfg.root, cfg.split, **cfg.dataset_kwargs)
        self.folders = run_folders_for_writing(Path(cfg.out), cfg.runs)

    def _set_threads(self) -> None:
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(self.threads)

    def run(self, task: tuple[int, str]) -> TaskResult:
        run, name = task
        folder = self.folders[run]
        if self.cfg.resume and folder.is_done(name):
            return TaskResult(run, name, "skipped")
        pending = [0]

        def tick(k: int) -> None:
            pending[0] += k
            if self.progress is not None and pending[0] >= PROGRESS_EVERY_FRAMES:
                self.progress(pending[0])
                pending[0] = 0

        start = time.perf_counter()
        try:
            _seed(run)
            seq = self.dataset.get_sequence(name)
            self._set_threads()
            runner = run_multi_object if seq.object_ids is not None else run_single_object
            frames = runner(seq, self.cfg.tracker, folder, self.cfg.init, self.cfg.save_masks, tick)
            seconds = time.perf_counter() - start
            folder.mark_done(name, {"sequence": name, "run": run, "frames": frames, "seconds": seconds, "pid": os.getpid()})
        except Exception as exc:  # reported per task; the other sequences go on
            return TaskResult(run, name, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        finally:
            if self.progress is not None and pending[0]:
                self.progress(pending[0])
        return TaskResult(run, name, "done", frames=frames, seconds=seconds)


_WORKER: _Worker | None = None


def _pool_init(cfg: EvalConfig, progress_queue: Any) -> None:
    global _WORKER
    # Ctrl-C is the main process's to handle: it stops the pool, and the completed sequences are
    # kept (each is written atomically, its marker last). Workers that also caught it would print
    # their own tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = _Worker(cfg, progress_queue.put if progress_queue is not None else None)


def _pool_run(task: tuple[int, str]) -> TaskResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(task)


def plan_tasks(cfg: EvalConfig, names: list[str]) -> list[tuple[int, str]]:
    """The (run, sequence) tasks of this shard, before resume filtering."""
    if cfg.sequences is not None:
        unknown = [s for s in cfg.sequences if s not in set(names)]
        if unknown:
            raise InputError(f"--sequences: {unknown} not in the dataset ({len(names)} sequences)")
        names = [s for s in names if s in set(cfg.sequences)]
    i, n = cfg.shard
    mine = names[i::n]
    return [(run, name) for name in mine for run in range(cfg.runs)]


def _meta(cfg: EvalConfig, names: list[str]) -> dict:
    return {
        "dataset": dataset_info(cfg.dataset).name,
        "root": str(cfg.root),
        "split": cfg.split,
        "tracker": asdict(cfg.tracker),
        "runs": cfg.runs,
        "init": cfg.init,
        "sequences": names,
    }


def _identity(meta: dict) -> dict[str, Any]:
    """What must match for results of two invocations to share one folder: the dataset, the tracker
    (the device aside: it changes rounding, not what is evaluated), the number of runs and the
    initialisation. Paths compare resolved, so ``data/dev`` and ``./data/dev/`` are the same."""

    def path(value: Any) -> Any:
        return str(Path(value).resolve()) if isinstance(value, str) and value else value

    tracker = dict(meta.get("tracker") or {})
    tracker.pop("device", None)
    for key in ("weights", "sta"):
        tracker[key] = path(tracker.get(key))
    tracker["settings"] = list(tracker.get("settings") or ())
    return {
        "dataset": meta.get("dataset"),
        "root": path(meta.get("root")),
        "split": meta.get("split"),
        "tracker": tracker,
        "runs": meta.get("runs"),
        "init": meta.get("init"),
    }


def _check_same_evaluation(cfg: EvalConfig, meta: dict) -> None:
    """Refuse to write into a results folder where an evaluation of something else completed sequences.

    Resuming there would skip the sequences it completed and leave its results beside the new
    ones, under an ``eval.json`` that describes only the new evaluation; ``--no-resume`` would
    still keep the sequences this invocation does not run. A folder without completed sequences
    (its evaluation failed or was stopped early) holds nothing to mix up and is taken over."""
    out = Path(cfg.out)
    path = out / META_FILE
    done_dirs = (out / DONE_DIR, *out.glob(f"run_*/{DONE_DIR}"))
    completed = any(any(d.glob("*.json")) for d in done_dirs if d.is_dir())
    if not path.is_file() or not completed:
        return
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--out {cfg.out}: cannot read its {META_FILE} ({exc}); use another --out") from None
    old, new = _identity(recorded), _identity(meta)
    diffs = [f"{key}: {old[key]!r} there, {new[key]!r} now" for key in new if old[key] != new[key]]
    if diffs:
        raise InputError(
            f"--out {cfg.out} holds the results of a different evaluation ({'; '.join(diffs)}). "
            "Writing there would mix the two: use a new --out, or delete that folder first."
        )


def _write_meta(cfg: EvalConfig, meta: dict) -> None:
    atomic_write_text(Path(cfg.out) / META_FILE, json.dumps(meta, indent=1))


def run_evaluation(cfg: EvalConfig, log: Callable[[str], None] | None = None) -> EvalSummary:
    """Run ``cfg``; returns what was done, skipped and failed (failures do not stop the others)."""
    cfg.validate()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    dataset = get_dataset(cfg.dataset, cfg.root, cfg.split, **cfg.dataset_kwargs)
    names = dataset.sequence_names()
    tasks = plan_tasks(cfg, names)
    folders = run_folders_for_writing(Path(cfg.out), cfg.runs)
    meta = _meta(cfg, names)
    _check_same_evaluation(cfg, meta)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    _write_meta(cfg, meta)
    summary = EvalSummary()
    todo = []
    for run, name in tasks:
        if cfg.resume and folders[run].is_done(name):
            summary.skipped.append((run, name))
        else:
            if not cfg.resume:
                folders[run].clear(name)
            todo.append((run, name))
    if summary.skipped:
        log(f"resume: {len(summary.skipped)} of {len(tasks)} tasks already complete in {cfg.out}")
    total_frames = sum(len(dataset.get_sequence(name)) for _, name in todo)
    from tqdm import tqdm

    seq_bar = tqdm(total=len(todo), desc="sequences", unit="seq", position=0, disable=not cfg.progress)
    frame_bar = tqdm(total=total_frames, desc="frames", unit="fr", position=1, disable=not cfg.progress)
    start = time.perf_counter()

    def collect(result: TaskResult) -> None:
        seq_bar.update(1)
        if result.status == "done":
            summary.done.append((result.run, result.sequence))
            summary.frames += result.frames
        elif result.status == "skipped":
            summary.skipped.append((result.run, result.sequence))
        else:
            summary.failed.append(result)
            log(f"FAILED run {result.run} sequence {result.sequence}: {result.error.splitlines()[0]}")
            with open(Path(cfg.out) / "errors.log", "a") as f:
                f.write(f"run {result.run} sequence {result.sequence}\n{result.error}\n")

    try:
        if not todo:
            pass
        elif cfg.backend == "ray":
            _run_ray(cfg, todo, collect, frame_bar)
        elif cfg.workers == 1:
            worker = _Worker(cfg, frame_bar.update)
            for task in todo:
                collect(worker.run(task))
        else:
            _run_pool(cfg, todo, collect, frame_bar)
    finally:
        seq_bar.close()
        frame_bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _run_pool(cfg: EvalConfig, todo: list[tuple[int, str]], collect: Callable[[TaskResult], None], frame_bar: Any) -> None:
    ctx = mp.get_context("spawn")
    progress_queue = ctx.Queue()

    def drain() -> None:
        while True:
            try:
                frame_bar.update(progress_queue.get_nowait())
            except queue_mod.Empty:
                return

    with ctx.Pool(min(cfg.workers, len(todo)), initializer=_pool_init, initargs=(cfg, progress_queue)) as pool:
        results = pool.imap_unordered(_pool_run, todo, chunksize=1)
        remaining = len(todo)
        while remaining:
            try:
                result = results.next(timeout=POLL_SECONDS)
            except mp.TimeoutError:
                drain()
                continue
            drain()
            collect(result)
            remaining -= 1
        pool.close()
        pool.join()  # let the workers flush their last progress messages
    drain()


def _run_ray(cfg: EvalConfig, todo: list[tuple[int, str]], collect: Callable[[TaskResult], None], frame_bar: Any) -> None:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise InputError("--backend ray needs Ray, which is not installed: pip install 'rtstrack[ray]'") from None
    ray.init(address=cfg.address, ignore_reinit_error=True)

    @ray.remote
    class RayWorker:  # pragma: no cover - needs a Ray installation
        def __init__(self, config: EvalConfig) -> None:
            self.worker = _Worker(config, None)

        def run(self, task: tuple[int, str]) -> TaskResult:
            return self.worker.run(task)

    actors = [RayWorker.remote(cfg) for _ in range(min(cfg.workers, len(todo)))]
    pool = ActorPool(actors)
    for result in pool.map_unordered(lambda actor, task: actor.run.remote(task), todo):
        frame_bar.update(result.frames)
        collect(result)
