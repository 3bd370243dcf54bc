"""Frame sources: read a video, an image folder, a camera or a stream **one frame at a time**.

Every source yields :class:`SourceFrame` items in temporal order. A frame that cannot be decoded
is not dropped silently: it comes out as a ``SourceFrame`` whose ``image`` is ``None`` and whose
``error`` says why, so the caller decides whether to skip it or to stop (``--on-bad-frame``).

Conventions: images are ``(H, W, 3)`` ``uint8`` **RGB** arrays; ``index`` is the 0-based position
of the frame in the source (bad frames count), so output line ``i`` always belongs to frame ``i``.

Nothing is read ahead: a two-hour video uses the memory of one frame.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtstrack.data.folder import IMAGE_SUFFIXES, list_images
from rtstrack.errors import InputError

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
"""URL schemes handed to OpenCV/FFmpeg as live or remote streams."""


@dataclass(frozen=True)
class SourceParams:
    """How tolerant a video source is of decoding errors.

    Attributes:
        max_consecutive_bad: after this many unreadable frames in a row (for a file whose frame
            count is known), the file is considered truncated and reading ends.
        quiet_decoder: silence FFmpeg's own log lines (the CLI reports bad frames itself).
    """

    max_consecutive_bad: int = 10
    quiet_decoder: bool = True


@dataclass
class SourceFrame:
    """One item from a source.

    Attributes:
        index: 0-based frame position in the source (unreadable frames are counted too).
        image: ``(H, W, 3)`` uint8 RGB, or ``None`` when the frame could not be decoded.
        error: why the frame could not be decoded (``None`` for good frames).
        name: a short label of the frame (the file name for image folders, else ``None``).
    """

    index: int
    image: np.ndarray | None
    error: str | None = None
    name: str | None = None

    @property
    def ok(self) -> bool:
        return self.image is not None


@dataclass
class SourceInfo:
    """What is known about a source before reading it.

    Attributes:
        spec: the SOURCE string as given by the user.
        kind: ``"folder"``, ``"video"``, ``"camera"`` or ``"stream"``.
        name: a short name for result files (folder or file stem, ``camera0``, ``stream``).
        frame_count: number of frames if known (folders: exact; video files: from the header,
            may be approximate), ``None`` for live sources.
        fps: frames per second if known (video files/streams), else ``None``.
        live: True for cameras and network streams (no end is known in advance).
    """

    spec: str
    kind: str
    name: str
    frame_count: int | None = None
    fps: float | None = None
    live: bool = False

    def as_dict(self) -> dict:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "name": self.name,
            "frame_count": self.frame_count,
            "fps": self.fps,
            "live": self.live,
        }


class FrameSource:
    """Base class: ``info`` describes the source; iterating yields :class:`SourceFrame` items."""

    info: SourceInfo

    def __iter__(self) -> Iterator[SourceFrame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying file or device (idempotent)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageFolderSource(FrameSource):
    """Frames of a folder of images, in natural order (``frame2`` before ``frame10``).

    A folder that holds no image but has a ``frames/`` sub-folder (the project's sequence layout,
    e.g. ``shared/data/dev/<seq>``) is read from ``frames/``.
    """

    def __init__(self, folder: Path | str, spec: str | None = None) -> None:
        folder = Path(folder)
        paths = list_images(folder)
        name = folder.resolve().name
        if not paths and (folder / "frames").is_dir():
            paths = list_images(folder / "frames")
        elif folder.resolve().name == "frames":
            name = folder.resolve().parent.name
        if not paths:
            raise InputError(
                f"SOURCE {folder} has no frames: no image files ({', '.join(IMAGE_SUFFIXES)}) in it"
                f" or in a 'frames/' sub-folder"
            )
        self.paths = paths
        self.info = SourceInfo(spec=spec or str(folder), kind="folder", name=name, frame_count=len(paths))

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, path in enumerate(self.paths):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                reason = "file is missing" if not path.exists() else "not a decodable image (corrupt or truncated?)"
                yield SourceFrame(index, None, f"cannot read {path}: {reason}", name=path.name)
                continue
            yield SourceFrame(index, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), name=path.name)


class VideoCaptureSource(FrameSource):
    """Frames of a video file, a camera index or a stream URL, decoded by OpenCV/FFmpeg.

    For a file whose header gives a frame count, a failed decode before that count is reported as
    a bad frame and reading goes on. When nothing decodes any more until the end (or for
    ``params.max_consecutive_bad`` frames in a row) the file is cut short: that is reported once,
    as one bad frame saying "ends early", and reading ends. For live sources a failed read ends
    the stream.
    """

    def __init__(self, target: str | int, info: SourceInfo, params: SourceParams = SourceParams()) -> None:
        if params.quiet_decoder:
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when a capture opens
        self.params = params
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            if info.kind == "camera":
                raise InputError(f"cannot open camera {target}: no such device, or it is in use")
            if info.kind == "stream":
                raise InputError(f"cannot open stream {info.spec}: unreachable, or not a video stream FFmpeg can read")
            raise InputError(
                f"cannot read video {info.spec}: OpenCV/FFmpeg cannot open it"
                f" (not a video, an unsupported codec, or an incomplete file)"
            )
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        if info.kind == "stream" and not info.live and count <= 0:
            info.live = True  # an http(s) URL without a known length: a live stream (e.g. MJPEG camera)
        if not info.live:
            info.frame_count = max(count, 0)
        info.fps = fps if 0 < fps < 1000 else None
        self.info = info

    def __iter__(self) -> Iterator[SourceFrame]:
        count = self.info.frame_count
        index = 0
        failed: list[int] = []  # consecutive unreadable frames, reported once we know how they end
        while True:
            ok, image = self._cap.read()
            if ok and image is not None:
                for bad in failed:  # the decoder recovered: those were corrupt frames
                    yield SourceFrame(bad, None, f"frame {bad + 1} of {self.info.spec} could not be decoded (corrupt data)")
                failed = []
                yield SourceFrame(index, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                index += 1
                continue
            if self.info.live or count is None or index >= count or len(failed) >= self.params.max_consecutive_bad:
                if failed:  # nothing decodable after them: the file is cut short
                    which = (
                        f"frames {failed[0] + 1} to {count} of {count} cannot be decoded"
                        if index >= (count or 0)
                        else f"{len(failed)} frames in a row from frame {failed[0] + 1} of {count} cannot be decoded"
                    )
                    yield SourceFrame(
                        failed[0], None, f"video {self.info.spec} ends early: {which} (truncated or corrupt file)"
                    )
                return  # end of the stream / file
            failed.append(index)
            index += 1

    def close(self) -> None:
        self._cap.release()


def _looks_like_url(spec: str) -> bool:
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", spec)
    return bool(match) and match.group(1).lower() in STREAM_SCHEMES


def open_source(spec: str, params: SourceParams = SourceParams()) -> FrameSource:
    """Open SOURCE as given on the command line.

    * an existing folder: its images (or those of its ``frames/`` sub-folder), naturally sorted;
    * an existing file: a video file (mp4/avi/mov/mkv/... anything FFmpeg decodes);
    * a non-negative integer that is not an existing path: a camera index (``0`` = first camera);
    * ``rtsp://``, ``http(s)://``, ``rtmp://``, ``udp://`` ... URLs: a network stream or remote file.

    Raises:
        InputError: with a one-line message naming SOURCE when it does not exist, is a single
            image, is empty or cannot be opened.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputError(f"cannot read SOURCE folder {path}: permission denied")
        return ImageFolderSource(path, spec=spec)
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise InputError(f"cannot read SOURCE file {path}: permission denied")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(
                f"SOURCE {path} is a single image; pass the folder that holds the frames, or a video file"
            )
        if path.stat().st_size == 0:
            raise InputError(f"cannot read video {spec}: the file is empty (0 bytes)")
        info = SourceInfo(spec=spec, kind="video", name=path.stem)
        return VideoCaptureSource(str(path), info, params)
    if spec.isdigit():
        info = SourceInfo(spec=spec, kind="camera", name=f"camera{int(spec)}", live=True)
        return VideoCaptureSource(int(spec), info, params)
    if _looks_like_url(spec):
        stem = Path(spec.split("?", 1)[0].rstrip("/")).stem or "stream"
        scheme = spec.split("://", 1)[0].lower()
        # http(s) may serve a plain video file (then its frame count is known): decided once opened.
        live = scheme not in ("http", "https")
        info = SourceInfo(spec=spec, kind="stream", name=re.sub(r"[^A-Za-z0-9_.-]", "_", stem), live=live)
        return VideoCaptureSource(spec, info, params)
    raise InputError(
        f"SOURCE {spec!r} not found: expected a video file, a folder of images, a camera index (0, 1, ...)"
        f" or a stream URL (rtsp://, http://, ...)"
    )
