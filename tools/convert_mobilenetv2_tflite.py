#!/usr/bin/env python
"""Convert Google's quantized MobileNetV2 1.0 (TFLite) into the packaged torch weights.

Source: ``../shared/pretrained/mobilenet_v2_1.0_224_quant.tflite`` (github.com/google-coral/test_data,
commit 104342d2, Apache-2.0). The flatbuffer holds uint8 weights with per-tensor scale and zero
point (``real = scale * (q - zero_point)``), int32 biases (``real = scale * q``), batch norm already
folded into the convolutions and ReLU6 fused. This tool:

1. reads every CONV_2D / DEPTHWISE_CONV_2D of the graph with the ``tflite`` schema package
   (a tool-time dependency only: ``pip install tflite``),
2. dequantizes weights and biases to float32,
3. checks each op's stride, padding ("SAME"), fused activation and kind against the matching
   module of :class:`rtstrack.models.mobilenetv2.MobileNetV2Backbone`, then maps its tensors:
   conv ``[out, kh, kw, in] -> [out, in, kh, kw]``, depthwise ``[1, kh, kw, C] -> [C, 1, kh, kw]``,
   classifier ``[1001, 1, 1, 1280] -> [1001, 1280]``,
4. writes two float16 safetensors files into ``src/rtstrack/weights/``: the backbone stages and,
   separately, the ImageNet head (only needed to validate the conversion).

``--validate`` compares the float torch model with the quantized reference interpreter
(``pip install ai-edge-litert``, or ``tflite-runtime`` / ``tensorflow``) on real photos:

    python tools/convert_mobilenetv2_tflite.py                 # convert (writes the package files)
    python tools/convert_mobilenetv2_tflite.py --validate      # convert, then compare and report
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from rtstrack.errors import CheckpointError, InputError
from rtstrack.models.mobilenetv2 import (
    BACKBONE_WEIGHTS_FILE,
    HEAD_WEIGHTS_FILE,
    STAGES,
    MobileNetV2Backbone,
    SameConv2d,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TFLITE = REPO_ROOT / ".." / "shared" / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite"
DEFAULT_OUT_DIR = REPO_ROOT / "src" / "rtstrack" / "weights"
DEFAULT_IMAGES = REPO_ROOT / ".." / "shared" / "data" / "train" / "images" / "SOD"
STORAGE_DTYPE = torch.float16
HEAD_PREFIXES = ("head_conv.", "classifier.")
SOURCE_METADATA = {
    "source": "mobilenet_v2_1.0_224_quant.tflite, github.com/google-coral/test_data commit 104342d2",
    "license": "Apache-2.0 (see rtstrack/weights/NOTICE.md)",
    "converted_by": "tools/convert_mobilenetv2_tflite.py",
    "format": "float16, dequantized from uint8; batch norm folded; load as float32",
    "input": "RGB float in [0, 255], normalised inside the model as (x - 128) / 128",
}
WEIGHTS_SUFFIX = "/weights_quant/FakeQuantWithMinMaxVars"
PADDING_SAME = 0  # tflite.Padding.SAME
ACTIVATION_NONE = 0  # tflite.ActivationFunctionType.NONE
ACTIVATION_RELU6 = 3  # tflite.ActivationFunctionType.RELU6


@dataclass(frozen=True)
class TFLiteConv:
    """One dequantized convolution of the TFLite graph, still in TFLite layout.

    ``weight``: conv ``[out, kh, kw, in]`` or depthwise ``[1, kh, kw, C]`` float32;
    ``bias``: ``[out]`` float32; ``input_tensor`` / ``output_tensor``: indices of the op's
    activation input and output in the subgraph (used by ``--validate``).
    """

    scope: str
    depthwise: bool
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: int
    activation: int
    input_tensor: int
    output_tensor: int


def _dequantize(tensor: object, model: object) -> np.ndarray:
    """Dequantize a constant uint8/int32 tensor (per-tensor or per-channel) to float32."""
    import tflite

    dtypes = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT8: np.int8,
              tflite.TensorType.INT32: np.int32}
    if tensor.Type() not in dtypes:
        raise CheckpointError(f"tensor {tensor.Name().decode()}: unsupported type {tensor.Type()}")
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    shape = tensor.ShapeAsNumpy().tolist()
    q = np.frombuffer(raw.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape).astype(np.float64)
    quant = tensor.Quantization()
    scale = quant.ScaleAsNumpy().astype(np.float64)
    zero = quant.ZeroPointAsNumpy().astype(np.float64)
    if scale.size > 1:  # per-channel: broadcast along the quantized dimension
        axis = quant.QuantizedDimension()
        view = [1] * len(shape)
        view[axis] = -1
        scale, zero = scale.reshape(view), zero.reshape(view)
    return (scale * (q - zero)).astype(np.float32)


def _scope_of(weight_name: str) -> str:
    """TF scope of a weight tensor, e.g. ``MobilenetV2/expanded_conv_3/expand``."""
    for part in weight_name.split(";"):
        if part.endswith(WEIGHTS_SUFFIX):
            return part[: -len(WEIGHTS_SUFFIX)]
    raise CheckpointError(f"cannot find the TF scope in weight tensor name {weight_name!r}")


def read_tflite_convolutions(path: Path) -> list[TFLiteConv]:
    """Every CONV_2D / DEPTHWISE_CONV_2D of the TFLite graph at ``path``, in graph order."""
    import tflite

    if not path.is_file():
        raise InputError(f"TFLite file not found: {path}")
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    convs: list[TFLiteConv] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == tflite.BuiltinOperator.CONV_2D:
            options, depthwise = tflite.Conv2DOptions(), False
        elif builtin == tflite.BuiltinOperator.DEPTHWISE_CONV_2D:
            options, depthwise = tflite.DepthwiseConv2DOptions(), True
        else:
            continue
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if depthwise and options.DepthMultiplier() != 1:
            raise CheckpointError(f"op {i}: depth multiplier {options.DepthMultiplier()} != 1")
        if options.DilationHFactor() != 1 or options.DilationWFactor() != 1:
            raise CheckpointError(f"op {i}: dilated convolutions are not supported")
        weight_t, bias_t = graph.Tensors(op.Inputs(1)), graph.Tensors(op.Inputs(2))
        convs.append(
            TFLiteConv(
                scope=_scope_of(weight_t.Name().decode()),
                depthwise=depthwise,
                weight=_dequantize(weight_t, model),
                bias=_dequantize(bias_t, model),
                stride=(options.StrideH(), options.StrideW()),
                padding=options.Padding(),
                activation=options.FusedActivationFunction(),
                input_tensor=op.Inputs(0),
                output_tensor=op.Outputs(0),
            )
        )
    return convs


def block_names() -> list[str]:
    """Torch name of each inverted residual block, in TF order (``expanded_conv``, ``_1``, ...)."""
    names = []
    for stage, specs in STAGES.items():
        count = sum(spec.repeats for spec in specs)
        names.extend(f"{stage}.{j}" for j in range(count))
    return names


def torch_name(scope: str) -> str:
    """Map a TF scope to the module name in :class:`MobileNetV2Backbone`."""
    if scope == "MobilenetV2/Conv":
        return "stem"
    if scope == "MobilenetV2/Conv_1":
        return "head_conv"
    if scope == "MobilenetV2/Logits/Conv2d_1c_1x1":
        return "classifier"
    match = re.fullmatch(r"MobilenetV2/expanded_conv(?:_(\d+))?/(expand|depthwise|project)", scope)
    if match is None:
        raise CheckpointError(f"unknown TF scope {scope!r}")
    index = int(match.group(1) or 0)
    return f"{block_names()[index]}.{match.group(2)}"


def _check_op_matches(conv: TFLiteConv, module: torch.nn.Module, name: str) -> None:
    """Fail unless the TFLite op computes what the torch module computes."""
    if name == "classifier":
        ok = conv.activation == ACTIVATION_NONE and conv.stride == (1, 1) and not conv.depthwise
        if not ok:
            raise CheckpointError(f"{conv.scope}: unexpected classifier op")
        return
    if not isinstance(module, SameConv2d):
        raise CheckpointError(f"{name} is not a SameConv2d")
    expected_act = ACTIVATION_RELU6 if module.relu6 else ACTIVATION_NONE
    problems = []
    if conv.padding != PADDING_SAME:
        problems.append(f"padding {conv.padding} (expected SAME)")
    if tuple(conv.stride) != tuple(module.stride):
        problems.append(f"stride {conv.stride} vs {tuple(module.stride)}")
    if conv.activation != expected_act:
        problems.append(f"activation {conv.activation} vs {expected_act}")
    if conv.depthwise != (module.groups > 1):
        problems.append(f"depthwise {conv.depthwise} vs groups={module.groups}")
    if problems:
        raise CheckpointError(f"{conv.scope} -> {name}: " + "; ".join(problems))


def to_torch_layout(conv: TFLiteConv, name: str) -> np.ndarray:
    """TFLite weight layout to torch: see the module docstring."""
    if name == "classifier":
        return conv.weight.reshape(conv.weight.shape[0], -1)  # [1001, 1, 1, 1280] -> [1001, 1280]
    if conv.depthwise:
        return conv.weight.transpose(3, 0, 1, 2)  # [1, kh, kw, C] -> [C, 1, kh, kw]
    return conv.weight.transpose(0, 3, 1, 2)  # [out, kh, kw, in] -> [out, in, kh, kw]


def convert(tflite_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Read ``tflite_path`` and return ``(backbone_state, head_state)`` as float16 tensors.

    Every parameter of ``MobileNetV2Backbone(with_head=True)`` is filled exactly once, with the
    expected shape, or a :class:`CheckpointError` says which one is not.
    """
    model = MobileNetV2Backbone(with_head=True)
    modules = dict(model.named_modules())
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for conv in read_tflite_convolutions(tflite_path):
        name = torch_name(conv.scope)
        if name not in modules:
            raise CheckpointError(f"{conv.scope} maps to {name!r}, which the network lacks")
        _check_op_matches(conv, modules[name], name)
        for key, array in ((f"{name}.weight", to_torch_layout(conv, name)), (f"{name}.bias", conv.bias)):
            if key in state:
                raise CheckpointError(f"{key} is filled twice (scope {conv.scope})")
            if tuple(array.shape) != tuple(expected[key].shape):
                raise CheckpointError(
                    f"{key}: expected shape {tuple(expected[key].shape)}, got {array.shape}"
                )
            state[key] = torch.from_numpy(np.ascontiguousarray(array)).to(STORAGE_DTYPE)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(f"the TFLite graph did not provide {missing}")
    head = {k: v for k, v in state.items() if k.startswith(HEAD_PREFIXES)}
    backbone = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    return backbone, head


def write_weights(tflite_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """Convert and write the two packaged files; returns their paths."""
    backbone, head = convert(tflite_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / BACKBONE_WEIGHTS_FILE, out_dir / HEAD_WEIGHTS_FILE)
    save_file(backbone, str(paths[0]), metadata={**SOURCE_METADATA, "part": "backbone"})
    save_file(head, str(paths[1]), metadata={**SOURCE_METADATA, "part": "imagenet head"})
    return paths


# --------------------------------------------------------------------------- validation
# Needs a TFLite interpreter (pip install ai-edge-litert); the package never imports this part.

#: Sizes whose stride-32 map is 7x7, so the TFLite head (7x7 average pool + reshape to 1001)
#: still runs: 224x224 (even at every stride) and 193x201 (odd at every stride but the last).
VALIDATION_SIZES = ((224, 224), (193, 201))


class _Reference:
    """The quantized TFLite interpreter at one input size, keeping every intermediate tensor."""

    def __init__(self, tflite_path: Path, size: tuple[int, int]) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            try:
                from tflite_runtime.interpreter import Interpreter, OpResolverType
            except ImportError as err:
                raise CheckpointError(
                    "--validate needs a TFLite interpreter: pip install ai-edge-litert "
                    "(or tflite-runtime)"
                ) from err
        # Reference kernels, no XNNPACK delegate: a delegate fuses ops and does not keep their
        # intermediate tensors, which the per-op check reads.
        self.interp = Interpreter(
            model_path=str(tflite_path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        self.input_index = self.interp.get_input_details()[0]["index"]
        self.output_index = self.interp.get_output_details()[0]["index"]
        self.interp.resize_tensor_input(self.input_index, [1, *size, 3])
        self.interp.allocate_tensors()
        details = self.interp.get_tensor_details()
        self.index = {d["name"]: d["index"] for d in details}
        self.quant = {d["index"]: d["quantization"] for d in details}

    def run(self, rgb: np.ndarray) -> None:
        self.interp.set_tensor(self.input_index, rgb[None])
        self.interp.invoke()

    def step(self, index: int) -> float:
        """Quantization step (scale) of tensor ``index``."""
        return float(self.quant[index][0])

    def clip(self, index: int, value: np.ndarray) -> np.ndarray:
        """``value`` saturated to the range that uint8 tensor ``index`` can represent."""
        scale, zero = self.quant[index]
        return np.clip(value, scale * (0 - zero), scale * (255 - zero))

    def tensor(self, index: int) -> np.ndarray:
        """Dequantized value of tensor ``index``; 4-D maps come back as NCHW."""
        scale, zero = self.quant[index]
        value = scale * (self.interp.get_tensor(index).astype(np.float32) - zero)
        return value.transpose(0, 3, 1, 2) if value.ndim == 4 else value


def _stage_tensor_names() -> dict[str, str]:
    """TFLite tensor name of the output of each named stage (its last block)."""
    model = MobileNetV2Backbone()
    names = {}
    for stage in STAGES:
        index = max(i for i, n in enumerate(block_names()) if n.startswith(stage + "."))
        scope = "MobilenetV2/expanded_conv" + (f"_{index}" if index else "")
        last_block = getattr(model, stage)[-1]
        names[stage] = f"{scope}/add" if last_block.residual else f"{scope}/project"
    return names


def load_photo(path: Path, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` photo resized (bilinear) to ``size = (H, W)``."""
    from PIL import Image

    with Image.open(path) as image:
        return np.array(image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR))


def load_converted(weights_dir: Path) -> MobileNetV2Backbone:
    """The network with head, strictly loaded from the two files written in ``weights_dir``."""
    from safetensors.torch import load_file

    state = {}
    for name in (BACKBONE_WEIGHTS_FILE, HEAD_WEIGHTS_FILE):
        state.update({k: v.float() for k, v in load_file(str(weights_dir / name)).items()})
    model = MobileNetV2Backbone(with_head=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


@torch.no_grad()
def validate(
    tflite_path: Path, weights_dir: Path, photos: list[Path], size: tuple[int, int]
) -> dict:
    """Compare the converted float16 weights in torch with the quantized interpreter on ``photos``.

    Two checks, both at input ``size``:

    * per op: every convolution, fed the interpreter's own (dequantized) input, must reproduce
      the interpreter's output (saturated to the output's uint8 range); the difference is
      reported in output quantization steps (< 1 means the op, its padding and its weights are
      converted exactly, up to uint8 rounding);
    * end to end: the float torch network against the fully quantized interpreter (stages,
      logits, softmax, top-1). These differ by the accumulated uint8 rounding of activations.
    """
    convs = read_tflite_convolutions(tflite_path)
    ref = _Reference(tflite_path, size)
    model = load_converted(weights_dir)
    modules = dict(model.named_modules())
    project_outputs = {c.scope: c.output_tensor for c in convs}
    stage_tensors = {
        stage: ref.index[name] if name.endswith("/add") else project_outputs[name]
        for stage, name in _stage_tensor_names().items()
    }
    op_steps = {c.scope: 0.0 for c in convs}
    stage_err: dict[str, list[float]] = {s: [] for s in STAGES}
    per_image = []
    for path in photos:
        rgb = load_photo(path, size)
        ref.run(rgb)
        for conv in convs:
            name = torch_name(conv.scope)
            x = torch.from_numpy(ref.tensor(conv.input_tensor))
            # (the stem's input tensor dequantizes to (x - 128) / 128: already normalised)
            if name == "classifier":
                got = modules[name](x.flatten(1)).numpy()
                want = ref.tensor(conv.output_tensor).reshape(got.shape)
            else:
                got = modules[name](x).numpy()
                want = ref.tensor(conv.output_tensor)
            # the quantized op saturates at the edges of its uint8 range; the float one does not
            got = ref.clip(conv.output_tensor, got)
            steps = float(np.abs(got - want).max()) / ref.step(conv.output_tensor)
            op_steps[conv.scope] = max(op_steps[conv.scope], steps)
        out = model(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())
        for stage, index in stage_tensors.items():
            want = ref.tensor(index)
            stage_err[stage].append(float(np.abs(out[stage].numpy() - want).mean() / np.abs(want).mean()))
        ref_logits = ref.tensor(ref.index["MobilenetV2/Logits/Squeeze1"])[0]
        ref_soft = ref.tensor(ref.output_index)[0]
        logits = out["logits"][0].numpy()
        soft = torch.softmax(out["logits"][0], 0).numpy()
        per_image.append({
            "image": path.name,
            "tflite_top1": int(ref_logits.argmax()),
            "torch_top1": int(logits.argmax()),
            "tflite_top1_prob": round(float(ref_soft.max()), 4),
            "torch_top1_prob": round(float(soft.max()), 4),
            "top5_overlap": len(set(np.argsort(-ref_logits)[:5]) & set(np.argsort(-logits)[:5])),
            "max_abs_logit_diff": round(float(np.abs(logits - ref_logits).max()), 4),
            "max_abs_softmax_diff": round(float(np.abs(soft - ref_soft).max()), 4),
        })
    worst_op = max(op_steps, key=op_steps.__getitem__)
    return {
        "input_size": list(size),
        "images": len(per_image),
        "per_op_max_diff_in_quant_steps": round(op_steps[worst_op], 3),
        "per_op_worst": worst_op,
        "top1_agreement": sum(r["tflite_top1"] == r["torch_top1"] for r in per_image) / len(per_image),
        "mean_top5_overlap": float(np.mean([r["top5_overlap"] for r in per_image])),
        "max_abs_logit_diff": max(r["max_abs_logit_diff"] for r in per_image),
        "mean_max_abs_logit_diff": round(float(np.mean([r["max_abs_logit_diff"] for r in per_image])), 4),
        "max_abs_softmax_diff": max(r["max_abs_softmax_diff"] for r in per_image),
        "stage_mean_rel_abs_diff": {s: round(float(np.mean(v)), 4) for s, v in stage_err.items()},
        "per_image": per_image,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tflite", type=Path, default=DEFAULT_TFLITE, help="source .tflite file")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where to write the weights")
    parser.add_argument("--validate", action="store_true", help="compare with the TFLite interpreter")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="photos (*.jpg) for --validate")
    parser.add_argument("--count", type=int, default=30, help="number of photos for --validate")
    parser.add_argument("--report", type=Path, help="write the --validate report as JSON here")
    args = parser.parse_args(argv)
    for path in write_weights(args.tflite, args.out_dir):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.validate:
        photos = sorted(args.images.glob("*.jpg"))[: args.count]
        if not photos:
            raise InputError(f"no .jpg photos in {args.images}")
        reports = [validate(args.tflite, args.out_dir, photos, size) for size in VALIDATION_SIZES]
        for report in reports:
            summary = {k: v for k, v in report.items() if k != "per_image"}
            print(json.dumps(summary, indent=1))
        if args.report:
            args.report.write_text(json.dumps(reports, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
