"""STA: the box-to-mask network that gives RTS its first-frame mask when only a box is known (§3).

Two passes of a small LWL-style segmenter on one frame: the box, rasterised and encoded together
with the target-model features, trains a target model (pass 1); the predicted mask is encoded and
trains a second target model (pass 2). The decoder is shared; the output of pass 2 is used.
"""

from __future__ import annotations

import torch
from torch import nn

from rtstrack.models.config import STANetConfig
from rtstrack.models.decoder import SegmentationDecoder
from rtstrack.models.layers import BasicBlock, conv_block
from rtstrack.models.rts import build_backbone
from rtstrack.models.segmentation import LabelEncoder, SegmentationTargetModel


def boxes_to_masks(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Rasterise xywh boxes ``(N, 4)`` into ``(N, 1, H, W)`` float masks, as the reference does.

    Each coordinate is truncated toward zero, then ``int(v + 0.5)`` (a no-op for non-negative ints);
    the mask is ``[max(0, y) : y + h, max(0, x) : x + w]`` with Python slice semantics.
    """
    masks = torch.zeros(boxes.shape[0], 1, *size, dtype=boxes.dtype, device=boxes.device)
    for i, box in enumerate(boxes.tolist()):
        x, y, w, h = (int(int(v) + 0.5) for v in box)
        masks[i, :, max(0, y) : y + h, max(0, x) : x + w] = 1
    return masks


class BoxEncoder(nn.Module):
    """Box + target-model features -> (encoding, sample weights) (pytracking ``ResidualDS16FeatSWBox``)."""

    def __init__(self, *, dims: tuple[int, int, int, int, int], feat_dim: int, use_bn: bool = False) -> None:
        super().__init__()
        self.conv_block = conv_block(1, dims[0], stride=2, batch_norm=use_bn)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res1 = BasicBlock(in_planes=dims[0], planes=dims[1], stride=2, use_bn=use_bn)
        self.res2 = BasicBlock(in_planes=dims[1], planes=dims[2], stride=2, use_bn=use_bn)
        self.res3 = BasicBlock(in_planes=dims[2] + feat_dim, planes=dims[3], stride=1, use_bn=use_bn)
        self.label_pred = conv_block(dims[3], dims[4], batch_norm=True, relu=True)
        self.samp_w_pred = nn.Conv2d(dims[3], dims[4], 3, padding=1)

    def forward(
        self, boxes: torch.Tensor, features: torch.Tensor, image_size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: boxes ``(I, S, 4)`` xywh crop px; features ``(I*S, C, h, w)``. Returns ``(I, S, D, h, w)`` x2."""
        lead = boxes.shape[:-1]
        masks = boxes_to_masks(boxes.reshape(-1, 4), image_size)
        enc = self.res2(self.res1(self.pool(self.conv_block(masks))))
        out = self.res3(torch.cat([enc, features.reshape(-1, *features.shape[-3:])], dim=1))
        label, weight = self.label_pred(out), self.samp_w_pred(out)
        return label.reshape(*lead, *label.shape[-3:]), weight.reshape(*lead, *weight.shape[-3:])


class STANet(nn.Module):
    """The STA network (keys as in the official ``sta.pth.tar``)."""

    def __init__(self, config: STANetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.feature_extractor, channels = build_backbone(c.backbone)
        in_dim = channels[c.feature_layer]
        self.target_model = SegmentationTargetModel(in_dim=in_dim, feat_dim=c.seg_feat_dim, filter_size=c.seg_filter_size)
        self.target_model_segm = SegmentationTargetModel(in_dim=None, feat_dim=c.seg_feat_dim, filter_size=c.seg_filter_size)
        box_dims = (*c.box_encoder_dims, c.num_filters)
        self.label_encoder = BoxEncoder(dims=box_dims, feat_dim=c.seg_feat_dim, use_bn=c.use_bn_in_label_enc)
        self.bbox_encoder = BoxEncoder(dims=box_dims, feat_dim=c.seg_feat_dim, use_bn=c.use_bn_in_label_enc)
        self.segm_encoder = LabelEncoder(dims=(*c.segm_encoder_dims, c.num_filters), stride=2, use_bn=c.use_bn_in_label_enc)
        self.decoder = SegmentationDecoder(
            in_channels=2 * c.num_filters,
            mdim=c.decoder_mdim,
            feature_channels={layer: channels[layer] for layer in c.decoder_layers},
        )
        self.backbone_layers = tuple(sorted(set(c.decoder_layers) | {c.feature_layer}))

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, return_all: bool = False):
        """Box -> mask logits.

        Args:
            images: ``(N, 3, H, W)`` network input. The official tracker feeds raw RGB in [0, 255]
                without normalisation (rts-spec §3.3 item 5); reproduce that for parity.
            boxes: ``(N, 4)`` xywh in crop pixels.
            return_all: also return the intermediate tensors (for parity tests).
        Returns:
            ``(p1, p2)`` logits ``(N, 1, H, W)`` of both passes (the tracker uses ``p2``), and the
            intermediates dict if ``return_all``.
        """
        c = self.config
        size = tuple(images.shape[-2:])
        backbone = self.feature_extractor(images, self.backbone_layers)
        xf = self.target_model.feature_extractor(backbone[c.feature_layer])
        x5 = xf.reshape(1, -1, *xf.shape[-3:])  # (1, N, C, h, w): one image per sequence
        b = boxes.reshape(1, -1, 4)
        box_enc, _ = self.label_encoder(b, xf, size)
        enc1, w1 = self.bbox_encoder(b, xf, size)
        res1 = self.target_model.learn(x5, enc1, w1, c.optim_iter, compute_losses=return_all)
        m1 = self.target_model.apply(res1.filter, x5)
        p1 = self.decoder(torch.cat([box_enc, m1], dim=2), backbone, size)
        enc2, w2 = self.segm_encoder(torch.sigmoid(p1).reshape(1, -1, *size))
        res2 = self.target_model_segm.learn(x5, enc2, w2, c.optim_iter, compute_losses=return_all)
        m2 = self.target_model.apply(res2.filter, x5)
        p2 = self.decoder(torch.cat([box_enc, m2], dim=2), backbone, size)
        if not return_all:
            return p1, p2
        extras = {"backbone": backbone, "x_s": xf, "box_enc": box_enc, "enc1": enc1, "w1": w1, "filter1": res1,
                  "m1": m1, "enc2": enc2, "w2": w2, "filter2": res2, "m2": m2}
        return p1, p2, extras


