"""RTSNet: the RTS network, composed under the official state-dict prefixes.

``feature_extractor`` (backbone F), ``target_model`` (segmentation features + few-shot learner T),
``label_encoder`` (E and W), ``classifier`` (DiMP features G, initialiser, learner P),
``clf_encoder`` (score encoder H) and ``decoder`` (D). The network is pure: the tracker and the
training objective compose its verbs (``extract_backbone``, ``segmentation_features``,
``learn_segmentation``, ``classification_features``, ``init_classifier``, ``learn_classifier``,
``classify``, ``segment``); ``forward`` is the training unroll of rts-spec §2.11.
"""

from __future__ import annotations

import torch
from torch import nn

from rtstrack.models.backbone import ResNet
from rtstrack.models.classification import Classifier
from rtstrack.models.config import BACKBONES, PIXEL_FORMATS, RTSNetConfig
from rtstrack.models.decoder import SegmentationDecoder
from rtstrack.models.layers import resize_bilinear
from rtstrack.models.segmentation import LabelEncoder, SegmentationTargetModel, target_model_features
from rtstrack.models.steepest_descent import DescentResult


def build_backbone(name: str, depth: str = "layer4", imagenet: bool = False) -> tuple[nn.Module, dict[str, int]]:
    """Backbone module and its output channels per stage (``layer1`` .. ``depth``).

    ``depth``: the deepest stage the network uses. The ResNets always build all four stages (the
    official checkpoints hold them); MobileNetV2 stops there. ``imagenet``: a MobileNetV2 starts
    from the packaged ImageNet weights (3.6 MB, Apache-2.0; rtstrack/weights/NOTICE.md), as
    training wants; otherwise (and for the ResNets, whose weights come from checkpoints) the
    weights are random until a checkpoint is loaded."""
    spec = BACKBONES[name]
    if spec["kind"] == "resnet":
        net = ResNet(blocks=spec["blocks"], width=spec["width"])
        return net, dict(net.out_channels)
    from rtstrack.models.mobilenetv2 import MobileNetV2Backbone, load_mobilenetv2_imagenet

    net = load_mobilenetv2_imagenet(depth=depth) if imagenet else MobileNetV2Backbone(depth=depth)
    return net, dict(net.out_channels)


class PixelNormalizer(nn.Module):
    """RGB [0, 255] ``(N, 3, H, W)`` -> network input, per ``PIXEL_FORMATS`` (non-persistent buffers)."""

    def __init__(self, pixel_format: str) -> None:
        super().__init__()
        spec = PIXEL_FORMATS[pixel_format]
        self.reverse = spec["order"] == "bgr"
        self.register_buffer("mean", torch.tensor(spec["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec["std"]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.reverse:
            images = images[:, [2, 1, 0]]
        return (images - self.mean) / self.std


class RTSNet(nn.Module):
    """The RTS network. Build with :func:`rtstrack.models.build_model`.

    ``imagenet_backbone``: start a MobileNetV2 backbone from the packaged ImageNet weights (for
    training); otherwise every weight is random until a checkpoint is loaded."""

    def __init__(self, config: RTSNetConfig, imagenet_backbone: bool = False) -> None:
        super().__init__()
        self.config = config
        c = config
        self.normalizer = PixelNormalizer(c.pixel_format)
        self.backbone_layers = tuple(sorted(set(c.decoder_layers) | {c.feature_layer}))
        self.feature_extractor, channels = build_backbone(c.backbone, depth=self.backbone_layers[-1], imagenet=imagenet_backbone)
        in_dim = channels[c.feature_layer]
        self.target_model = SegmentationTargetModel(in_dim=in_dim, feat_dim=c.seg_feat_dim, filter_size=c.seg_filter_size)
        dims = (*c.label_encoder_dims, c.num_filters)
        self.label_encoder = LabelEncoder(dims=dims, stride=2, use_bn=c.use_bn_in_label_enc)
        # The DiMP features reuse the *segmentation* filter size in their norm scale (official quirk).
        clf_features = target_model_features(
            in_dim=in_dim, out_dim=c.clf_feat_dim, filter_size=c.seg_filter_size, stride=c.clf_feat_stride
        )
        self.classifier = Classifier(
            feature_extractor=clf_features,
            feat_dim=c.clf_feat_dim,
            filter_size=c.clf_filter_size,
            pool_stride=c.clf_pool_stride,
            hinge_threshold=c.clf_hinge_threshold,
            activation_leak=c.clf_activation_leak,
            filter_reg=c.clf_filter_reg,
        )
        self.clf_encoder = LabelEncoder(dims=dims, stride=1, use_bn=c.use_bn_in_label_enc)
        self.decoder = SegmentationDecoder(
            in_channels=c.num_filters,
            mdim=c.decoder_mdim,
            feature_channels={layer: channels[layer] for layer in c.decoder_layers},
        )

    # ----------------------------------------------------------------------------- verbs
    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """RGB float ``(N, 3, H, W)`` in [0, 255] -> backbone input."""
        return self.normalizer(images)

    def extract_backbone(self, images: torch.Tensor, features_only: bool = False) -> dict[str, torch.Tensor]:
        """Normalised ``(N, 3, H, W)`` -> backbone stages ``{"layer1": (N, C1, H/4, W/4), ...}``.

        ``features_only``: compute only ``feature_layer`` (enough for the learners' features; the
        decoder needs all stages).
        """
        layers = (self.config.feature_layer,) if features_only else self.backbone_layers
        return self.feature_extractor(images, layers)

    def segmentation_features(self, backbone: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(N, seg_feat_dim, H/16, W/16)`` L2-normalised target-model features."""
        return self.target_model.feature_extractor(backbone[self.config.feature_layer])

    def classification_features(self, backbone: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(N, clf_feat_dim, H/s, W/s)`` L2-normalised DiMP features, ``s = feature_stride *
        clf_feat_stride`` (32 for RTS-50, 16 for RTS-Lite)."""
        return self.classifier.feature_extractor(backbone[self.config.feature_layer])

    def encode_masks(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks ``(I, S, H, W)`` in [0, 1] -> label encodings and weights, each ``(I, S, D, H/16, W/16)``."""
        return self.label_encoder(masks)

    def learn_segmentation(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor,
        num_iter: int,
        init_filter: torch.Tensor | None = None,
        compute_losses: bool = False,
        init_scores: torch.Tensor | None = None,
    ) -> DescentResult:
        """Few-shot learning of the target model; see :meth:`SegmentationTargetModel.learn`."""
        return self.target_model.learn(features, labels, weights, num_iter, init_filter, compute_losses, init_scores)

    def init_classifier(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Initial DiMP filter ``(S, C, k, k)`` from features ``(I, S, C, h, w)`` and boxes ``(I, S, 4)``."""
        return self.classifier.filter_initializer(features, boxes)

    def learn_classifier(
        self,
        filt: torch.Tensor,
        features: torch.Tensor,
        labels: torch.Tensor,
        num_iter: int,
        sample_weight: torch.Tensor | None = None,
        compute_losses: bool = False,
    ) -> DescentResult:
        """DiMP steepest descent; see :meth:`DiMPLearner.learn`."""
        return self.classifier.learner.learn(filt, features, labels, num_iter, sample_weight, compute_losses)

    def classify(self, filt: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """DiMP scores of features ``(I, S, C, h, w)``: ``(I, S, h+1, w+1)`` for an even filter size
        (RTS-50's 4), ``(I, S, h, w)`` for an odd one."""
        return self.classifier.learner.classify(filt, features)

    def apply_target_model(self, seg_filter: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Mask encoding ``T_tau(x)`` ``(I, S, D, h, w)`` of features ``(I, S, C, h, w)``; filter ``(S, D, C, k, k)``."""
        return self.target_model.apply(seg_filter, features)

    def encode_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """Score encoder H: ``(I, S, h, w)`` raw scores -> ``(I, S, D, h, w)`` encoding."""
        return self.clf_encoder.encode(scores)

    def fuse(self, mask_encoding: torch.Tensor, score_encoding: torch.Tensor) -> torch.Tensor:
        """Additive fusion: ``T_tau(x) + resize(H(scores))``, both ``(1, S, D, h, w)``."""
        resized = resize_bilinear(score_encoding.reshape(-1, *score_encoding.shape[-3:]), mask_encoding.shape[-2:])
        return mask_encoding + resized.reshape(mask_encoding.shape)

    def segment(
        self,
        seg_filter: torch.Tensor,
        features: torch.Tensor,
        backbone: dict[str, torch.Tensor],
        score_encoding: torch.Tensor,
        image_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Mask logits for one frame (rts-spec §2.10).

        Args:
            seg_filter: ``(S, D, C, k, k)`` target-model filter.
            features: ``(1, S, C, h, w)`` target-model features of the frame.
            backbone: the frame's backbone stages (batch S).
            score_encoding: ``(1, S, D, h', w')`` encoded DiMP scores.
            image_size: ``(H, W)`` of the crop the backbone saw; None: ``config.image_size``.
        Returns:
            ``(S, 1, H, W)`` logits at the crop resolution.
        """
        fused = self.fuse(self.apply_target_model(seg_filter, features), score_encoding)
        return self.decoder(fused, backbone, tuple(image_size or self.config.image_size))

    # ----------------------------------------------------------------------------- training
    def forward(
        self,
        train_imgs: torch.Tensor,
        test_imgs: torch.Tensor,
        train_masks: torch.Tensor,
        train_bb: torch.Tensor,
        train_label: torch.Tensor,
        test_label: torch.Tensor | None = None,
        num_refinement_iter: int | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Training unroll (rts-spec §2.11).

        Args:
            train_imgs: ``(1, B, 3, H, W)`` normalised train frames; test_imgs ``(T, B, 3, H, W)``.
            train_masks: ``(1, B, H, W)``; train_bb ``(1, B, 4)`` xywh crop pixels.
            train_label: ``(1, B, h, w)`` Gaussian DiMP labels (score-map size).
            test_label: unused by the network (the loss uses it); accepted for a uniform call.
            num_refinement_iter: segmentation steps after each predicted test frame (default: config).
        Returns:
            ``(T, B, H, W)`` test logits and the DiMP test scores ``(T, B, h, w)`` of every iterate
            (initial filter first).
        """
        c = self.config
        refine = c.train_refinement_iter if num_refinement_iter is None else num_refinement_iter
        n_train, batch = train_imgs.shape[:2]
        n_test = test_imgs.shape[0]
        images = torch.cat([train_imgs.reshape(-1, *train_imgs.shape[-3:]), test_imgs.reshape(-1, *test_imgs.shape[-3:])])
        backbone = self.extract_backbone(images)
        split = n_train * batch
        seg_feat = self.segmentation_features(backbone)
        clf_feat = self.classification_features(backbone)
        x_train = seg_feat[:split].reshape(n_train, batch, *seg_feat.shape[-3:])
        x_test = seg_feat[split:].reshape(n_test, batch, *seg_feat.shape[-3:])
        z_train = clf_feat[:split].reshape(n_train, batch, *clf_feat.shape[-3:])
        z_test = clf_feat[split:].reshape(n_test, batch, *clf_feat.shape[-3:])

        f0 = self.init_classifier(z_train, train_bb)
        clf_iterates = self.learn_classifier(f0, z_train, train_label, c.train_clf_iter).iterates
        clf_scores = [self.classify(f, z_test) for f in clf_iterates]
        score_enc = self.encode_scores(clf_scores[-1])

        labels, weights = self.encode_masks(train_masks)
        feats = [x_train]
        tau = self.learn_segmentation(x_train, labels, weights, c.train_seg_iter).filter
        logits = []
        for i in range(n_test):
            test_backbone = {k: v[split + i * batch : split + (i + 1) * batch] for k, v in backbone.items()}
            logit = self.segment(tau, x_test[i : i + 1], test_backbone, score_enc[i : i + 1], test_imgs.shape[-2:])
            logit = logit.reshape(1, batch, *logit.shape[-2:])
            logits.append(logit)
            if i < n_test - 1 and refine > 0:
                new_labels, new_weights = self.encode_masks(torch.sigmoid(logit).detach())
                feats.append(x_test[i : i + 1])
                labels = torch.cat([labels, new_labels])
                weights = torch.cat([weights, new_weights])
                tau = self.learn_segmentation(torch.cat(feats), labels, weights, refine, init_filter=tau).filter
        return torch.cat(logits), clf_scores
