"""Evaluation toolkit: run trackers over benchmarks, score results, plot, pack for servers.

* :mod:`rtstrack.eval.runner` - parallel, resumable runs (``rtstrack eval``)
* :mod:`rtstrack.eval.analysis` / :mod:`rtstrack.eval.metrics` - scores (``rtstrack analyze``)
* :mod:`rtstrack.eval.report` - markdown, PNG plots, ``--json``
* :mod:`rtstrack.eval.packing` - GOT-10k / TrackingNet server zips (``rtstrack pack``)
* :mod:`rtstrack.eval.trax` - the TraX server for the VOT toolkit (``rtstrack-trax``)
* :mod:`rtstrack.eval.peers` - OpenCV peer trackers (NanoTrack, CSRT)
"""
