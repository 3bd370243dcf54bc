"""The tracking loop behind ``rtstrack track``: source -> trackers -> writers, one frame at a time.

Usable from Python too::

    from rtstrack.io import open_source, Prompt, TrackOptions, run_tracking
    with open_source("clip.mp4") as source:
        report = run_tracking(source, [tracker], [Prompt(box=(10, 20, 50, 40))], Path("out"),
                              TrackOptions(name="clip"))

``trackers`` is either a list with one single-object tracker per prompt, or ONE multi-object
tracker (e.g. :class:`rtstrack.tracker.MultiTracker`) that follows every prompt at once.

Guarantees:

* only the current frame is in memory;
* every result file is flushed after each frame and the overlay video is finalised in a
  ``finally`` block, so a crash, a tracker error or Ctrl-C keeps everything written so far;
* the first Ctrl-C (or SIGTERM) finishes the current frame and stops cleanly; a second one stops
  at once;
* ``summary.json`` is written when the run starts (``status: "running"``) and rewritten at the end.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtstrack.errors import InputError, RTSTrackError
from rtstrack.files import atomic_write_text
from rtstrack.io.overlay import OverlayStyle, OverlayVideoWriter, draw_overlay
from rtstrack.io.prompts import Prompt, box_from_mask, check_box_in_frame, read_mask_png
from rtstrack.io.sources import FrameSource, SourceFrame
from rtstrack.io.writers import ObjectOutputs, WriterParams
from rtstrack.stopping import StopRequest
from rtstrack.types import Box, normalize_output

ON_BAD_FRAME = ("skip", "stop")

STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_BAD_FRAME = "stopped_on_bad_frame"
STATUS_TRACKER_ERROR = "tracker_error"
STATUS_WRITE_ERROR = "write_error"


class TrackerFailure(RTSTrackError):
    """The tracker raised an exception or returned something unusable on a frame."""


@dataclass(frozen=True)
class TrackOptions:
    """Everything about a run that is not the source, the trackers or the prompts.

    Attributes:
        name: sequence name used in the toolkit result files (e.g. ``pytracking/<name>.txt``).
        on_bad_frame: ``"skip"`` (report it, write a NaN box, go on) or ``"stop"`` (report it, stop).
        max_frames: stop after this many frames (``None``: the whole source).
        write_masks: write ``masks/%05d.png``.
        write_video: write ``overlay.mp4``.
        formats: extra toolkit box formats (``pytracking``, ``got10k``, ``pysot``).
        progress: show a tqdm progress bar on stderr.
        max_warnings: bad-frame warnings printed before they are only counted.
        overlay: look of the overlay video.
        writer: number formats of the text outputs.
    """

    name: str
    on_bad_frame: str = "skip"
    max_frames: int | None = None
    write_masks: bool = True
    write_video: bool = True
    formats: tuple[str, ...] = ()
    progress: bool = False
    max_warnings: int = 10
    overlay: OverlayStyle = OverlayStyle()
    writer: WriterParams = WriterParams()


@dataclass
class RunReport:
    """What happened, also saved as ``summary.json``.

    Attributes:
        status: ``completed``, ``interrupted``, ``stopped_on_bad_frame``, ``tracker_error`` or
            ``write_error``.
        message: one line for the user when the status is not ``completed``.
        frames: frames handled = lines of each ``boxes.txt`` (bad frames included).
        frames_tracked: frames decoded and tracked (= mask files per object = overlay frames).
        bad_frames: ``{"index", "frame", "reason"}`` per unreadable frame (``frame`` is 1-based).
        fps: frames handled per second of wall time (reading, tracking and writing).
        timings: seconds: ``total``, ``init`` (first frame), ``track`` (all later frames, summed
            over objects), ``read``, ``write``; and ``track_fps`` (tracked frames per tracking second).
        objects: per object: prompt, output files, frames where the target was reported lost.
    """

    status: str = "running"
    message: str | None = None
    frames: int = 0
    frames_tracked: int = 0
    bad_frames: list[dict] = field(default_factory=list)
    fps: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    objects: list[dict] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Result:
    box: Box | None
    mask: np.ndarray | None
    found: bool
    score: float


def _as_result(raw: Any, frame_shape: tuple[int, ...], frame_number: int, fallback: _Result | None) -> _Result:
    """Read a tracker's output with :func:`rtstrack.types.normalize_output` (the same rules
    as ``rtstrack eval``). From ``init`` (``fallback`` given), ``None`` or a result without a box
    takes the prompt's box (and mask)."""
    if raw is None and fallback is not None:
        return fallback
    try:
        out = normalize_output(raw, None if fallback is None else np.asarray(fallback.box))
    except InputError as exc:
        raise TrackerFailure(f"{exc} (frame {frame_number})") from None
    if out.mask is not None and out.mask.shape != tuple(frame_shape[:2]):
        raise TrackerFailure(
            f"the tracker returned a mask of shape {out.mask.shape} on frame {frame_number}; expected {frame_shape[:2]}"
        )
    return _Result(tuple(float(v) for v in out.box), out.mask, out.found, out.score)  # type: ignore[arg-type]


def _call_trackers(
    trackers: list[Any] | Any,
    frame: np.ndarray,
    frame_number: int,
    prompts: list[tuple[Box | None, np.ndarray | None]] | None = None,
    count: int | None = None,
) -> tuple[list[_Result], list[float]]:
    """Run every tracker on one frame: ``init`` with its prompt when ``prompts`` is given, else
    ``track``. Returns the results and the seconds each tracker took.

    ``trackers`` is a list (one single-object tracker per object) or one multi-object tracker
    following ``count`` objects (see :func:`_call_multi_tracker`).

    Raises:
        TrackerFailure: naming the frame (1-based) and the object when a tracker raises or
            returns something unusable.
    """
    if not isinstance(trackers, (list, tuple)):
        return _call_multi_tracker(trackers, frame, frame_number, prompts, count or len(prompts or []))
    results, seconds = [], []
    for k, tracker in enumerate(trackers):
        t0 = time.perf_counter()
        fallback = None
        try:
            if prompts is None:
                raw = tracker.track(frame)
            else:
                box, mask = prompts[k]
                raw = tracker.init(frame, box=box, mask=mask) if box is not None else tracker.init(frame, mask=mask)
                fallback = _Result(box if box is not None else box_from_mask(mask), mask, True, float("nan"))
        except Exception as exc:  # a tracker bug must not lose the outputs written so far
            verb = "failed to start" if prompts is not None else "failed"
            raise TrackerFailure(
                f"the tracker {verb} on frame {frame_number} (object {k + 1}): {type(exc).__name__}: {exc}"
            ) from exc
        seconds.append(time.perf_counter() - t0)
        results.append(_as_result(raw, frame.shape, frame_number, fallback))
    return results, seconds


def _call_multi_tracker(
    tracker: Any,
    frame: np.ndarray,
    frame_number: int,
    prompts: list[tuple[Box | None, np.ndarray | None]] | None,
    count: int,
) -> tuple[list[_Result], list[float]]:
    """One multi-object tracker for objects ``1..count``: ``init(frame, boxes=[...], masks=[...],
    object_ids=[1, ..., count])`` then ``track(frame)``, both returning an object whose ``.objects``
    maps each id to a FrameResult-like value. The call's time is split evenly between the
    objects (so the per-object times still add up to the frame's tracking time)."""
    t0 = time.perf_counter()
    try:
        if prompts is None:
            raw = tracker.track(frame)
        else:
            raw = tracker.init(
                frame, boxes=[box for box, _ in prompts], masks=[mask for _, mask in prompts],
                object_ids=list(range(1, count + 1)),
            )
        objects = raw.objects
    except Exception as exc:  # a tracker bug must not lose the outputs written so far
        verb = "failed to start" if prompts is not None else "failed"
        raise TrackerFailure(f"the tracker {verb} on frame {frame_number}: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - t0
    results = []
    for k in range(1, count + 1):
        if k not in objects:
            raise TrackerFailure(f"the tracker returned no result for object {k} on frame {frame_number}")
        fallback = None
        if prompts is not None:
            box, mask = prompts[k - 1]
            fallback = _Result(box if box is not None else box_from_mask(mask), mask, True, float("nan"))
        results.append(_as_result(objects[k], frame.shape, frame_number, fallback))
    return results, [elapsed / count] * count


def _resolve_prompts(
    prompts: list[Prompt], frame: np.ndarray, warn: Callable[[str], None]
) -> list[tuple[Box | None, np.ndarray | None]]:
    """Check every prompt against the first frame (before any output is created)."""
    resolved = []
    for k, prompt in enumerate(prompts):
        label = "--box" if len(prompts) == 1 else f"--box (object {k + 1})"
        if prompt.box is not None:
            for note in check_box_in_frame(prompt.box, frame.shape, label=label):
                warn(note)
            resolved.append((prompt.box, None))
        else:
            assert prompt.mask_path is not None
            resolved.append((None, read_mask_png(prompt.mask_path, frame.shape)))
    return resolved


def _write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean_floats(data: Any) -> Any:
    """JSON has no NaN: turn non-finite floats into None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _clean_floats(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean_floats(v) for v in data]
    return data


def run_tracking(
    source: FrameSource,
    trackers: list[Any] | Any,
    prompts: list[Prompt],
    out_dir: Path,
    options: TrackOptions,
    meta: dict[str, Any] | None = None,
    warn: Callable[[str], None] = lambda msg: print(f"rtstrack: warning: {msg}", file=sys.stderr),
) -> RunReport:
    """Track ``prompts`` (one per tracker) through ``source`` and write the results in ``out_dir``.

    Args:
        source: an opened :class:`FrameSource`.
        trackers: one object per prompt with ``init(frame, box=None, mask=None)`` and
            ``track(frame)`` (see :class:`rtstrack.types.SingleObjectTracker`); or ONE
            multi-object tracker for all prompts, with ``init(frame, boxes=[...], masks=[...],
            object_ids=[1, 2, ...])`` and ``track(frame)`` returning an object whose ``objects``
            maps each id (prompt ``k`` is id ``k + 1``) to its result, like
            :class:`rtstrack.tracker.MultiTracker`.
        prompts: the first-frame box or mask of each object.
        out_dir: output folder (must exist and be writable). One object: files directly in it;
            several: ``obj1/``, ``obj2/``, ... each with its own ``boxes.txt`` and ``masks/``.
        options: see :class:`TrackOptions`.
        meta: extra facts copied into ``summary.json`` (model, device, load time, command).
        warn: where warnings go (one line each): bad frames, a box partly outside the first frame
            or around a very small target.

    Returns:
        The :class:`RunReport` (also written to ``out_dir/summary.json``). Failures during the run
        (bad frame with ``stop``, tracker error, Ctrl-C, write error) are reported in it, not raised.

    Raises:
        InputError: before anything is written, when the source has no decodable frame or a
            prompt does not fit the first frame.
    """
    if not prompts:
        raise InputError("need at least one prompt (a box or a mask per object)")
    if isinstance(trackers, (list, tuple)) and len(trackers) != len(prompts):
        raise InputError(f"need one tracker per prompt, got {len(trackers)} trackers for {len(prompts)} prompts")
    if options.on_bad_frame not in ON_BAD_FRAME:
        raise InputError(f"--on-bad-frame {options.on_bad_frame!r}: expected one of {', '.join(ON_BAD_FRAME)}")
    report = RunReport()
    summary_path = out_dir / "summary.json"
    several = len(prompts) > 1
    outputs: list[ObjectOutputs] = []
    overlay: OverlayVideoWriter | None = None
    overlay_style = OverlayStyle(**{**asdict(options.overlay), "label": several})
    frame_shape: tuple[int, ...] | None = None
    pending_bad: list[SourceFrame] = []  # bad frames seen before the outputs exist
    lost = [0] * len(prompts)
    maskless = [False] * len(prompts)  # warned that the tracker gives no masks
    times = {"init": 0.0, "track": 0.0, "read": 0.0, "write": 0.0}
    t_start = time.perf_counter()
    total = source.info.frame_count
    if options.max_frames is not None:
        total = options.max_frames if total is None else min(total, options.max_frames)

    def summary() -> dict:
        elapsed = time.perf_counter() - t_start
        report.fps = report.frames / elapsed if elapsed > 0 else 0.0
        tracked_after_init = max(report.frames_tracked - 1, 0)
        report.timings = {
            "total_s": elapsed,
            **{f"{k}_s": v for k, v in times.items()},
            "track_fps": tracked_after_init / times["track"] if times["track"] > 0 else None,
        }
        if outputs:
            report.objects = [
                {
                    "id": k + 1,
                    "prompt": {"kind": prompt.kind, "value": prompt.text},
                    "frames_lost": lost[k],
                    "masks_written": out.masks.count if out.masks is not None else 0,
                    "masks_missing": out.masks_missing,
                    "files": {key: str(Path(p).relative_to(out_dir)) for key, p in out.files().items()},
                }
                for k, (prompt, out) in enumerate(zip(prompts, outputs))
            ]
        report.outputs = {"overlay": "overlay.mp4" if overlay is not None and overlay.frames else None}
        data = {
            "status": report.status,
            "message": report.message,
            "frames": report.frames,
            "frames_tracked": report.frames_tracked,
            "bad_frames": report.bad_frames,
            "fps": report.fps,
            **(meta or {}),
            "source": source.info.as_dict(),
            "frame_size": {"width": frame_shape[1], "height": frame_shape[0]} if frame_shape else None,
            "timings": report.timings,
            "objects": report.objects,
            "outputs": report.outputs,
        }
        return _clean_floats(data)

    def record_bad(item: SourceFrame) -> None:
        report.bad_frames.append({"index": item.index, "frame": item.index + 1, "reason": item.error})
        if options.on_bad_frame == "stop":
            return  # the run's final error message says it
        if len(report.bad_frames) <= options.max_warnings:
            warn(item.error or f"frame {item.index + 1} could not be read")
        elif len(report.bad_frames) == options.max_warnings + 1:
            warn("more unreadable frames: see bad_frames in summary.json")

    def write_frame(index: int, frame: np.ndarray | None, results: list[_Result] | None, seconds: list[float]) -> None:
        t0 = time.perf_counter()
        for k, out in enumerate(outputs):
            res = results[k] if results is not None else None
            out.write(index, res.box if res else None, res.mask if res else None, seconds[k])
        if overlay is not None and frame is not None and results is not None:
            overlay.write(draw_overlay(frame, [(r.box, r.mask, r.found) for r in results], overlay_style))
        report.frames += 1
        times["write"] += time.perf_counter() - t0

    from tqdm import tqdm

    bar = tqdm(total=total, unit="frame", disable=not options.progress, file=sys.stderr, dynamic_ncols=True)
    iterator = iter(source)
    try:
        with StopRequest() as stop:
            while not stop.requested:
                if options.max_frames is not None and report.frames + len(pending_bad) >= options.max_frames:
                    break
                t0 = time.perf_counter()
                item = next(iterator, None)
                times["read"] += time.perf_counter() - t0
                if item is None:
                    break
                if item.ok and frame_shape is not None and item.image.shape != frame_shape:  # type: ignore[union-attr]
                    h, w = item.image.shape[:2]  # type: ignore[union-attr]
                    item = SourceFrame(
                        item.index,
                        None,
                        f"frame {item.index + 1} is {w}x{h}, the first frame was {frame_shape[1]}x{frame_shape[0]}",
                        item.name,
                    )
                if not item.ok:
                    record_bad(item)
                    if options.on_bad_frame == "stop":
                        report.status = STATUS_BAD_FRAME
                        report.message = f"{item.error}; stopped there (--on-bad-frame stop)"
                        break
                    if not outputs:
                        pending_bad.append(item)
                    else:
                        write_frame(item.index, None, None, [0.0] * len(outputs))
                        bar.update(1)
                    continue
                frame = item.image
                assert frame is not None
                if not outputs:  # first good frame: check prompts, create outputs, init
                    resolved = _resolve_prompts(prompts, frame, warn)
                    frame_shape = frame.shape
                    for k in range(len(prompts)):
                        folder = out_dir / f"obj{k + 1}" if several else out_dir
                        outputs.append(
                            ObjectOutputs(folder, options.name, options.write_masks, options.formats, options.writer)
                        )
                    if options.write_video:
                        overlay = OverlayVideoWriter(out_dir / "overlay.mp4", source.info.fps, overlay_style)
                    _write_json(summary_path, summary())
                    for bad in pending_bad:
                        write_frame(bad.index, None, None, [0.0] * len(outputs))
                        bar.update(1)
                    pending_bad.clear()
                    results, seconds = _call_trackers(trackers, frame, item.index + 1, resolved, len(prompts))
                    times["init"] += sum(seconds)
                else:
                    results, seconds = _call_trackers(trackers, frame, item.index + 1, count=len(prompts))
                    times["track"] += sum(seconds)
                for k, res in enumerate(results):
                    lost[k] += 0 if res.found else 1
                    if res.mask is None and options.write_masks and not maskless[k]:
                        maskless[k] = True
                        warn(
                            f"the tracker returned no mask for object {k + 1} on frame {item.index + 1}: no mask file"
                            f" for such frames (use --no-masks with a box-only tracker)"
                        )
                report.frames_tracked += 1
                write_frame(item.index, frame, results, seconds)
                bar.update(1)
            if stop.requested and report.status == "running":
                report.status = STATUS_INTERRUPTED
                report.message = f"interrupted ({stop.requested})"
    except KeyboardInterrupt:
        report.status = STATUS_INTERRUPTED
        report.message = "interrupted (Ctrl-C)"
    except TrackerFailure as exc:
        report.status = STATUS_TRACKER_ERROR
        report.message = str(exc)
    except OSError as exc:
        report.status = STATUS_WRITE_ERROR
        report.message = f"cannot write the results in {out_dir}: {exc}"
    finally:
        bar.close()
        if overlay is not None:
            overlay.close()
        for out in outputs:
            out.close()
    if not outputs:
        if report.status == STATUS_WRITE_ERROR:
            raise InputError(report.message)
        if report.status == STATUS_INTERRUPTED:
            raise InputError(f"interrupted before the first frame of {source.info.spec} was read; nothing written")
        if report.status == STATUS_BAD_FRAME:
            raise InputError(f"{report.message}; nothing was written")
        if report.bad_frames:
            raise InputError(
                f"no frame of SOURCE {source.info.spec} could be decoded "
                f"({len(report.bad_frames)} unreadable, see the warnings above); nothing was written"
            )
        raise InputError(f"SOURCE {source.info.spec} has no frames")
    if report.status == "running":
        report.status = STATUS_COMPLETED
    try:
        _write_json(summary_path, summary())
    except OSError as exc:
        report.status = STATUS_WRITE_ERROR
        report.message = f"cannot write {summary_path}: {exc}"
    return report
