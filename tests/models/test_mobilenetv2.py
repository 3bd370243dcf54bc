"""MobileNetV2 backbone: packaged ImageNet weights, stage shapes, and a real check of the conversion."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from rtstrack.errors import InputError
from rtstrack.models.inference import fast_inference
from rtstrack.models.mobilenetv2 import (
    BACKBONE_WEIGHTS_FILE,
    HEAD_WEIGHTS_FILE,
    STAGE_CHANNELS,
    STAGE_STRIDES,
    MobileNetV2Backbone,
    load_mobilenetv2_imagenet,
    same_padding,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO.parent / "shared")).resolve()
TFLITE = SHARED / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite"
PHOTOS = SHARED / "data" / "train" / "images" / "SOD"
WEIGHTS_DIR = REPO / "src" / "rtstrack" / "weights"

# Top-1 classes (1001-way, 0 = background) that the quantized TFLite reference interpreter
# (ai-edge-litert 2.3.0, reference kernels and XNNPACK alike) gave for these photos resized
# bilinearly to 224x224, recorded by `tools/convert_mobilenetv2_tflite.py --validate`; its softmax
# was >= 0.99 on each. They check the conversion against Google's model, not our own output.
TFLITE_TOP1 = {
    "100075.jpg": 295,  # brown bear
    "106025.jpg": 146,  # king penguin
    "113044.jpg": 340,  # sorrel (horse)
    "12003.jpg": 328,  # starfish
}


@pytest.fixture(scope="module")
def classifier() -> MobileNetV2Backbone:
    return load_mobilenetv2_imagenet(with_head=True)


@pytest.fixture(scope="module")
def backbone() -> MobileNetV2Backbone:
    return load_mobilenetv2_imagenet()


def _photo(name: str, size: int = 224) -> torch.Tensor:
    with Image.open(PHOTOS / name) as image:
        rgb = np.array(image.convert("RGB").resize((size, size), Image.BILINEAR))
    return torch.from_numpy(rgb).permute(2, 0, 1).float()


def test_packaged_weights_load_strictly_and_are_finite(backbone, classifier) -> None:
    params = dict(backbone.named_parameters())
    assert params and all(torch.isfinite(p).all() for p in params.values())
    assert all(p.dtype == torch.float32 for p in params.values())  # stored fp16, loaded fp32
    assert "classifier.weight" not in backbone.state_dict()
    assert classifier.state_dict()["classifier.weight"].shape == (1001, 1280)
    # every tensor of the two files is used, none is left out
    with safe_open(str(WEIGHTS_DIR / BACKBONE_WEIGHTS_FILE), "pt") as f:
        assert set(f.keys()) == set(backbone.state_dict())
        assert "Apache-2.0" in f.metadata()["license"]
    with safe_open(str(WEIGHTS_DIR / HEAD_WEIGHTS_FILE), "pt") as f:
        assert set(f.keys()) | set(backbone.state_dict()) == set(classifier.state_dict())
    assert "Apache License" in (WEIGHTS_DIR / "NOTICE.md").read_text()


@pytest.mark.parametrize("height, width", [(480, 832), (224, 224), (193, 201)])
def test_stage_shapes_and_strides(backbone, height: int, width: int) -> None:
    with torch.no_grad():
        out = backbone(torch.full((1, 3, height, width), 128.0))
    assert list(out) == ["layer1", "layer2", "layer3", "layer4"]
    for name, feat in out.items():
        stride = STAGE_STRIDES[name]
        expected = (1, STAGE_CHANNELS[name], math.ceil(height / stride), math.ceil(width / stride))
        assert tuple(feat.shape) == expected, name
    assert (STAGE_CHANNELS["layer1"], STAGE_CHANNELS["layer4"]) == (24, 320)


def test_same_padding_follows_tensorflow() -> None:
    # TF "SAME": the extra pixel goes after; stride 2 pads (0, 1) on even and (1, 1) on odd sizes
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(225, 3, 2) == (1, 1)
    assert same_padding(7, 3, 1) == (1, 1)
    assert same_padding(7, 1, 1) == (0, 0)


def test_classifier_agrees_with_tflite_interpreter(classifier) -> None:
    batch = torch.stack([_photo(name) for name in TFLITE_TOP1])
    with torch.no_grad():
        probs = torch.softmax(classifier(batch)["logits"], dim=1)
    top1 = probs.argmax(dim=1).tolist()
    assert top1 == list(TFLITE_TOP1.values())
    assert probs.max(dim=1).values.min() > 0.9


def test_rejects_non_rgb_input(backbone) -> None:
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        backbone(torch.zeros(1, 1, 64, 64))


def _converter() -> ModuleType:
    path = REPO / "tools" / "convert_mobilenetv2_tflite.py"
    spec = importlib.util.spec_from_file_location("convert_mobilenetv2_tflite", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_converter_reproduces_packaged_files() -> None:
    pytest.importorskip("tflite", reason="the converter needs the tflite schema package: pip install tflite")
    backbone, head = _converter().convert(TFLITE)
    for state, name in ((backbone, BACKBONE_WEIGHTS_FILE), (head, HEAD_WEIGHTS_FILE)):
        with safe_open(str(WEIGHTS_DIR / name), "pt") as f:
            assert set(f.keys()) == set(state), name
            for key in state:
                assert torch.equal(f.get_tensor(key), state[key]), f"{name}: {key}"


def test_channels_last_compute_gives_the_same_features(backbone) -> None:
    nchw = MobileNetV2Backbone(channels_last=False)
    nchw.load_state_dict(backbone.state_dict(), strict=True)
    x = torch.rand(2, 3, 70, 98) * 255
    with torch.no_grad():
        fast, plain = backbone(x), nchw.eval()(x)
        with fast_inference(False):
            plain_route = backbone(x)
    grad_route = backbone(x)
    for name in fast:
        # CPU inference keeps the stages channels-last for the layers after them; training (autograd
        # on) and the plain route get ordinary NCHW tensors.
        assert fast[name].is_contiguous(memory_format=torch.channels_last)
        assert plain_route[name].is_contiguous() and grad_route[name].is_contiguous()
        torch.testing.assert_close(fast[name], plain[name], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(grad_route[name].detach(), plain[name], rtol=1e-4, atol=1e-4)


def test_depth_builds_and_loads_only_the_stages_used() -> None:
    from rtstrack.models import build_model

    net = load_mobilenetv2_imagenet(depth="layer3")
    assert net.stages == ("layer1", "layer2", "layer3") and not hasattr(net, "layer4")
    full = load_mobilenetv2_imagenet()
    x = torch.rand(1, 3, 64, 96) * 255
    with torch.no_grad():
        torch.testing.assert_close(net(x)["layer3"], full(x, ("layer3",))["layer3"])
    with pytest.raises(InputError, match="not built"):
        net(x, ("layer4",))
    with pytest.raises(InputError, match="head needs layer4"):
        MobileNetV2Backbone(with_head=True, depth="layer3")
    # RTS-Lite never runs stage 4, so it has no stage-4 weights
    assert not any(".layer4." in k for k in build_model("rts_lite").state_dict())


def test_the_imagenet_backbone_is_loaded_for_training_only(monkeypatch, tmp_path):
    """models/ reads no file unless asked: building RTS-Lite to load a checkpoint into it reads
    nothing; training starts the backbone from the packaged ImageNet weights."""
    import rtstrack.models.mobilenetv2 as mnv2
    from rtstrack.models import build_model
    from rtstrack.train.recipes import get_config
    from rtstrack.train.trainer import RunOptions, Trainer

    reads = []
    real = mnv2._read_state
    monkeypatch.setattr(mnv2, "_read_state", lambda path: reads.append(path) or real(path))
    build_model("rts_lite")
    assert reads == []
    imagenet = load_mobilenetv2_imagenet(depth="layer3").state_dict()
    factory = Trainer(get_config("rts_lite"), RunOptions(data_root=tmp_path, out_dir=tmp_path / "run")).model_factory
    for net in (build_model("rts_lite", imagenet_backbone=True), factory("rts_lite")):
        state = net.feature_extractor.state_dict()
        assert state.keys() == imagenet.keys() and all(torch.equal(state[k], imagenet[k]) for k in imagenet)
