"""Safe, strict checkpoint loading: one clear CheckpointError per problem."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from rtstrack.errors import CheckpointError
from rtstrack.models import build_model, build_sta, load_official, load_weights, read_official_checkpoint, save_weights
from rtstrack.models.checkpoint import load_state_dict_strict


def test_official_checkpoint_loads_without_pytracking(rts50_seed0):
    state, cons = read_official_checkpoint(rts50_seed0)
    assert cons["fun_name"] == "steepest_descent_resnet50_with_clf_encoder"
    assert cons["kwds"]["clf_filter_size"] == 4
    assert len(state) == 497
    import sys

    assert not any(name == "ltr" or name.startswith("ltr.") for name in sys.modules)


def test_truncated_file(rts50_seed0, tmp_path):
    data = rts50_seed0.read_bytes()
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_official(bad)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_official(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="is a folder; give the checkpoint file"):
        load_official(tmp_path)


class _Evil:
    """Unpickling this runs a shell command that creates the file ``_Evil.marker``."""

    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_global_outside_the_allow_list_is_refused(tmp_path, layout):
    _Evil.marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    if layout == "zip":  # torch.save's format
        torch.save({"net": {}, "payload": _Evil()}, path, pickle_module=pickle)
    else:  # a bare pickle, which torch reads with its legacy loader (pickle_module.load)
        path.write_bytes(pickle.dumps({"net": {}, "payload": _Evil()}))
    with pytest.raises(CheckpointError, match=r"(posix|os|nt)\.system.*allow-list"):
        read_official_checkpoint(path)
    assert not _Evil.marker.exists()


def test_not_a_pytracking_checkpoint(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="expected a dict with a 'net' entry"):
        read_official_checkpoint(path)


@pytest.fixture()
def tiny_state():
    return build_model("tiny").state_dict()


def test_missing_key_is_named(tiny_state):
    del tiny_state["decoder.project.conv2.bias"]
    with pytest.raises(CheckpointError, match=r"1 missing keys: decoder\.project\.conv2\.bias"):
        load_state_dict_strict(build_model("tiny"), tiny_state, "file.pth")


def test_unexpected_key_is_named(tiny_state):
    tiny_state["decoder.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"1 unexpected keys: decoder\.extra\.weight"):
        load_state_dict_strict(build_model("tiny"), tiny_state, "file.pth")


def test_misshaped_key_is_named(tiny_state):
    tiny_state["label_encoder.samp_w_pred.bias"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"wrong shape: label_encoder\.samp_w_pred\.bias: file \(3,\)"):
        load_state_dict_strict(build_model("tiny"), tiny_state, "file.pth")


def test_num_batches_tracked_is_optional(tiny_state):
    state = {k: v for k, v in tiny_state.items() if not k.endswith("num_batches_tracked")}
    load_state_dict_strict(build_model("tiny"), state, "old-file.pth")


def test_own_format_round_trip(tmp_path):
    torch.manual_seed(0)
    rts, sta = build_model("tiny"), build_sta("tiny")
    path = tmp_path / "model.safetensors"
    save_weights(path, rts, sta)
    rts2, sta2 = load_weights(path)
    for a, b in ((rts, rts2), (sta, sta2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert rts2.config == rts.config and sta2.config == sta.config


def test_own_format_corrupt(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="safetensors"):
        load_weights(path)
