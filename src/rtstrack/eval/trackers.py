"""Which tracker an evaluation runs, described by a small picklable spec.

* ``TrackerSpec(factory="package.module:callable")``: any callable returning an object with
  ``init(frame, box=None, mask=None)`` and ``track(frame)`` (ours, a peer, a test double), called
  with ``device=`` when the spec has a device and the callable takes it, else with no argument.
  This is how third-party trackers are evaluated.
* ``TrackerSpec(weights="rts50.pth", sta="sta.pth.tar", device="cpu")``:
  ``rtstrack.tracker.Tracker.from_checkpoint(weights, sta=sta, device=device)``.
* ``TrackerSpec()``: ``rtstrack.tracker.Tracker.from_pretrained()`` (the packaged default model).

Each worker process builds its tracker from the spec; :func:`new_tracker` returns a fresh tracker
per sequence (and per object in VOS), copying a cached prototype so that weights load once.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rtstrack.errors import InputError


@dataclass(frozen=True)
class TrackerSpec:
    """How to build the evaluated tracker.

    Attributes:
        factory: ``"package.module:callable"``; when set, weights/sta/device are ignored.
        weights: checkpoint for ``Tracker.from_checkpoint``.
        sta: STA checkpoint (optional with the project's own weights file).
        device: torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``); None lets the tracker choose.
        settings: ``"KEY=VALUE"`` tracker settings over the model's own (``TrackerConfig.with_overrides``).
    """

    factory: str | None = None
    weights: str | None = None
    sta: str | None = None
    device: str | None = None
    settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.factory:  # fail now, not once per sequence in every worker
            for option, path in (("--weights", self.weights), ("--sta", self.sta)):
                if path and not Path(path).is_file():
                    raise InputError(f"{option} {path}: file not found")
        if self.settings:
            if self.factory:
                raise InputError("--set changes the RTS tracker's settings; it does not apply to --tracker factories")
            from rtstrack.tracker.config import resolve_tracker_config

            resolve_tracker_config(self.settings)  # fail now, not in every worker

    def describe(self) -> str:
        if self.factory:
            return self.factory
        if self.weights:
            return f"rtstrack.Tracker.from_checkpoint({self.weights!r}, sta={self.sta!r})"
        return "rtstrack.Tracker.from_pretrained()"


def load_factory(path: str) -> Callable[..., Any]:
    """Import ``"package.module:factory"`` (``"package.module.factory"`` and nested attributes such as
    ``"module:Class.create"`` also work); the current folder is importable."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    if not module or not attr:
        raise InputError(f"--tracker {path!r}: expected MODULE:FACTORY, e.g. mypackage.trackers:make_tracker")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj = importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"--tracker {path!r}: cannot import module {module!r} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"--tracker {path!r}: module {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"--tracker {path!r}: {attr!r} is not callable")
    return obj


def accepts_keyword(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes the keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _build(spec: TrackerSpec) -> Any:
    if spec.factory:
        factory = load_factory(spec.factory)
        use_device = spec.device is not None and accepts_keyword(factory, "device")
        tracker = factory(device=spec.device) if use_device else factory()
    else:
        from rtstrack.tracker import build_tracker  # imported lazily: heavy, and optional for other trackers

        tracker = build_tracker(spec.weights, sta=spec.sta, device=spec.device, settings=spec.settings)
    for method in ("init", "track"):
        if not callable(getattr(tracker, method, None)):
            raise InputError(f"tracker built by {spec.describe()} has no {method}() method")
    return tracker


_PROTOTYPES: dict[TrackerSpec, Any] = {}


def new_tracker(spec: TrackerSpec) -> Any:
    """A fresh tracker for one sequence/object.

    Our own tracker is deep-copied from a per-process prototype (weights load once); other
    trackers are built by calling their factory again, which is the only safe way for objects
    such as OpenCV trackers.
    """
    if spec.factory:
        return _build(spec)
    if spec not in _PROTOTYPES:
        _PROTOTYPES[spec] = _build(spec)
    try:
        return copy.deepcopy(_PROTOTYPES[spec])
    except (TypeError, RuntimeError, AttributeError, copy.Error):  # objects that cannot be copied
        return _build(spec)
