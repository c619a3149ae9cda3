"""PF-ViT: the poker-face Vision Transformer (Li, Nie, Guo, Hong, Wang).

Components (paper Sec. 3.2, Fig. 2), all built from genfer's MAE parts so they start from MAE weights:

- **E** encoder: a :class:`~genfer.models.vit.ViT` (copy of the MAE encoder); ``z = E(x)``, (B, 1+N, L) (Eq. 1).
- **S** token separator: a squeeze-and-excitation block on ``z`` giving an element-wise selection mask
  ``σ(S(z))`` in [0, 1]^(1×L) per image, shared by all tokens; ``V_e = z ⊙ σ(S(z))`` and
  ``V_p = z ⊙ (1 − σ(S(z)))`` (Eq. 2).
- **G** generator: a copy of the MAE decoder whose input is the cross-fusion ``MCA(m + E_pos, V, V)``
  (Eq. 3): one multi-head cross-attention block with the mask tokens plus fixed 2D sin-cos position
  embeddings as queries and the (embedded) tokens ``V`` as keys and values; ``V = V_e + V_p`` gives the
  reconstruction x̂, ``V = V_p`` the poker face x̃, and ``V = V_e`` the "emotion" image of Fig. 3.
- **D** discriminator: a decoder-sized ViT (patch embedding as the encoder's, then the MAE decoder's
  embedding and blocks) with ``K + 1`` outputs on its [CLS] token: K emotion units and a real/fake unit;
  optionally (``views="shifted"``) it also judges the image shifted by half a patch and averages the logits.
- **C** classifier: one linear layer on the [CLS] token of ``V_e`` (Eq. 4).

Inference runs E → S → C only (:meth:`PFViT.forward`). Images are genfer's normalised [-1, 1] crops;
the generator outputs patch values in the same space (:meth:`PFViT.generate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genfer.config import PFViTModelConfig
from genfer.config.pfvit import DISC_VIEWS, OUTPUT_HEADS
from genfer.models.mae import MAEDecoder, MaskedAutoencoder, build_mae, unpatchify
from genfer.models.vit import (
    ViT,
    init_vit_weights,
    sincos_pos_embed_2d,
    transformer_blocks,
)


class SqueezeExcitation(nn.Module):
    """The token separator S: squeeze over tokens, excite channels (Hu et al.'s SE block).

    ``S(z) = W2 · ReLU(W1 · mean_tokens(z) + b1) + b2``; the selection mask is ``σ(S(z))``.

    Args:
        dim: token width L.
        reduction: SE reduction ratio r (hidden width ``max(8, L // r)``).
    """

    def __init__(self, *, dim: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(8, dim // reduction)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, T, L) tokens -> (B, 1, L) logits S(z) (apply a sigmoid for the mask)."""
        return self.fc2(torch.relu(self.fc1(z.mean(dim=1, keepdim=True))))


class CrossFusion(nn.Module):
    """MCA: one pre-norm transformer block whose attention takes queries from one sequence and keys and
    values from another (multi-head cross-attention), followed by the usual MLP.

    Args:
        dim: width of queries and (already embedded) keys/values.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / dim.
    """

    def __init__(self, *, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        from timm.layers import Mlp

        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    @torch.no_grad()
    def load_from_block(self, block: nn.Module) -> None:
        """Start from a pretrained self-attention block (timm ``Block``: norm1, attn.qkv, attn.proj, norm2, mlp).

        "MCA is a multi-head cross-attention block implemented by self-attention" (paper Sec. 3.2): in the
        MAE decoder's blocks the mask tokens already attend to the visible tokens, which is exactly what MCA
        computes, so its weights are a far better start than random ones (G reconstructs about twice as fast
        early in training). Both layer norms take the block's ``norm1``.
        """
        self.attn.in_proj_weight.copy_(block.attn.qkv.weight)
        self.attn.in_proj_bias.copy_(block.attn.qkv.bias)
        self.attn.out_proj.weight.copy_(block.attn.proj.weight)
        self.attn.out_proj.bias.copy_(block.attn.proj.bias)
        for norm in (self.norm_q, self.norm_kv):
            norm.load_state_dict(block.norm1.state_dict())
        self.norm_mlp.load_state_dict(block.norm2.state_dict())
        self.mlp.load_state_dict(block.mlp.state_dict())

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """queries: (B, Q, d), tokens: (B, T, d) -> (B, Q, d)."""
        kv = self.norm_kv(tokens)
        x = queries + self.attn(self.norm_q(queries), kv, kv, need_weights=False)[0]
        return x + self.mlp(self.norm_mlp(x))


class ConvOutputHead(nn.Module):
    """A convolutional output head on top of the MAE decoder's per-patch pixel head (genfer's fix of the
    block seams, docs/pfvit.md; the paper allows replacing components with "more advanced architectures").

    The decoder's pixel head decodes every token into its own p×p patch, so neighbouring patches never see
    each other and disagree at their borders. This head keeps that prediction as a base image and adds a
    residual computed by 3×3 convolutions over the whole image, whose receptive field crosses patch borders:

        base = unpatchify(pred(f)),  feats = unpatchify(W_f f)  (F channels per pixel),
        image = base + conv3(gelu(conv2(gelu(conv1([base, feats])))))

    with f the decoder's normalised patch features. ``conv3`` starts at zero, so a fresh head reproduces the
    per-patch output exactly and training (from an MAE or a patch-head PF-ViT) starts where the old G was.

    Args:
        dim: decoder width D.
        patch_size: p.
        in_chans: image channels C.
        channels: F, the width of the feature image and the convolutions.
    """

    def __init__(self, *, dim: int, patch_size: int, in_chans: int, channels: int = 32) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.features = nn.Linear(dim, patch_size * patch_size * channels)
        self.convs = nn.Sequential(
            nn.Conv2d(in_chans + channels, channels, 3, padding=1), nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
            nn.Conv2d(channels, in_chans, 3, padding=1),
        )
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def forward(self, base: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """base: (B, C, H, W) per-patch image, features: (B, N, D) -> (B, C, H, W)."""
        feats = unpatchify(self.features(features), self.patch_size)
        return base + self.convs(torch.cat([base, feats], dim=1))


class UpsampleOutputHead(nn.Module):
    """G's image from the decoder's patch features without any per-patch projection (genfer's, docs/pfvit.md):
    the (h, w) grid of token features, reduced by a 1×1 convolution, is upsampled bilinearly by 2, then by
    p / 2 to the image size, each step followed by two 3×3 convolutions, then a 3×3 convolution to the image:

        x = conv1x1(grid(f));  x = convs16(up2(x));  image = out(convs48(up_{p/2}(x)))

    Every output pixel is a smooth function of the neighbouring tokens, so there are no patch borders to show.
    Unlike :class:`ConvOutputHead` it does not reproduce a trained per-patch head at initialisation.

    Args:
        dim: decoder width D; patch_size: p (even); in_chans: image channels C; channels: F, the convolutions' width.
    """

    def __init__(self, *, dim: int, patch_size: int, in_chans: int, channels: int = 32) -> None:
        super().__init__()
        if patch_size % 2:
            raise ValueError(f"the upsample head needs an even patch size, not {patch_size}")
        self.patch_size = patch_size

        def convs(width: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
                                 nn.Conv2d(width, width, 3, padding=1), nn.GELU())

        self.reduce = nn.Conv2d(dim, 2 * channels, 1)
        self.coarse = convs(2 * channels)
        self.narrow = nn.Conv2d(2 * channels, channels, 1)
        self.fine = convs(channels)
        self.out = nn.Conv2d(channels, in_chans, 3, padding=1)

    def forward(self, base: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """base: (B, C, H, W) (unused; the per-patch image the other heads start from), features: (B, N, D) ->
        (B, C, H, W)."""
        b, n, d = features.shape
        side = math.isqrt(n)
        x = self.reduce(features.transpose(1, 2).reshape(b, d, side, side))
        x = self.coarse(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        x = F.interpolate(self.narrow(x), size=base.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.fine(x))


def triangular_window(patch_size: int) -> torch.Tensor:
    """(2p, 2p) separable triangular window w(u)·w(v), w(u) = (u + ½)/p rising then falling over 2p samples.
    Copies shifted by p sum to 1 everywhere (w(u) + w(u + p) = 1): a partition of unity for stride-p tiles."""
    ramp = (torch.arange(patch_size) + 0.5) / patch_size
    w = torch.cat([ramp, ramp.flip(0)])
    return w[:, None] * w[None, :]


class WindowedOutputHead(nn.Module):
    """G's image as overlapping tiles instead of abutting patches (genfer's, docs/pfvit.md): each token predicts a
    2p × 2p tile centred on its patch, weighted by :func:`triangular_window`; the tiles are overlap-added with
    stride p (``F.fold``, written as a transposed convolution with a fixed one-hot kernel so that it exports to
    ONNX) and divided by the summed window (1 inside the image), then a residual of three 3×3 convolutions refines
    the image:

        tiles = window ⊙ W f,  image₀ = fold(tiles) / fold(window),
        image = image₀ + conv3(gelu(conv2(gelu(conv1(image₀)))))

    Each pixel is a convex combination of the tiles of the 2 × 2 nearest tokens with weights that go to zero at a
    tile's edge, so image₀ is continuous across patch borders whatever the tokens predict. :meth:`start_from`
    copies a trained per-patch head into the tiles (each tile: the token's patch, its border rows and columns
    repeated outwards) and ``conv3`` starts at zero, so training from a patch-head PF-ViT starts from its image
    with the seams blended.

    Args:
        dim: decoder width D; patch_size: p (even); in_chans: image channels C; channels: F, the refinement's width.
    """

    def __init__(self, *, dim: int, patch_size: int, in_chans: int, channels: int = 32) -> None:
        super().__init__()
        if patch_size % 2:
            raise ValueError(f"the windowed head needs an even patch size, not {patch_size}")
        self.patch_size, self.in_chans = patch_size, in_chans
        self.pred = nn.Linear(dim, in_chans * 4 * patch_size * patch_size)
        tile = 4 * patch_size * patch_size
        self.register_buffer("window", triangular_window(patch_size).flatten().repeat(in_chans), persistent=False)
        # overlap-add as a transposed convolution with a fixed one-hot kernel (F.fold has no ONNX opset-17 export):
        # input channel c·4p² + u·2p + v puts its value at tile pixel (u, v) of output channel c
        scatter = torch.zeros(in_chans * tile, in_chans, 2 * patch_size, 2 * patch_size)
        for c in range(in_chans):
            scatter[c * tile:(c + 1) * tile, c] = torch.eye(tile).reshape(tile, 2 * patch_size, 2 * patch_size)
        self.register_buffer("scatter", scatter, persistent=False)
        self.refine = nn.Sequential(
            nn.Conv2d(in_chans, channels, 3, padding=1), nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
            nn.Conv2d(channels, in_chans, 3, padding=1),
        )
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    @torch.no_grad()
    def start_from(self, patch_head: nn.Linear) -> None:
        """Copy a per-patch head (D -> p·p·C, :func:`~genfer.models.mae.patchify`'s (row, col, channel) order)
        into the tiles: tile pixel (u, v) of channel c takes patch pixel (clamp(u − p/2), clamp(v − p/2), c)."""
        p, c = self.patch_size, self.in_chans
        src = (torch.arange(2 * p) - p // 2).clamp(0, p - 1)
        rows = (src[:, None] * p + src[None, :])[None] * c + torch.arange(c)[:, None, None]  # (C, 2p, 2p)
        self.pred.weight.copy_(patch_head.weight[rows.flatten()])
        self.pred.bias.copy_(patch_head.bias[rows.flatten()])

    def forward(self, base: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """base: (B, C, H, W) (unused; only its size is read), features: (B, N, D) -> (B, C, H, W)."""
        b = features.shape[0]
        p, h, w = self.patch_size, base.shape[-2], base.shape[-1]
        grid = (self.pred(features) * self.window).transpose(1, 2).reshape(b, -1, h // p, w // p)  # (B, C·4p², h, w)
        image = F.conv_transpose2d(grid, self.scatter, stride=p)  # (B, C, H + p, W + p)
        weight = F.conv_transpose2d(self.window.reshape(1, -1, 1, 1).expand(1, -1, h // p, w // p), self.scatter,
                                    stride=p)
        s = p // 2
        image = (image / weight)[..., s:s + h, s:s + w]
        return image + self.refine(image)


OUTPUT_HEAD_CLASSES = {"conv": ConvOutputHead, "upsample": UpsampleOutputHead, "windowed": WindowedOutputHead}
"""G's output heads on top of the decoder (``patch``, the paper's, has none)."""


class PokerFaceGenerator(nn.Module):
    """G with its cross-fusion input: ``G(MCA(m + E_pos, V, V))`` (Eq. 3), built on an :class:`MAEDecoder`.

    The keys/values are the tokens ``V`` (B, 1+N, L) mapped by the decoder's embedding to its width plus
    the decoder's position embeddings; the queries are the decoder's mask token plus position
    embeddings. The fused patch tokens, preceded by the embedded [CLS] of ``V``, go through the decoder's
    blocks, norm and pixel head. ``output_head`` ``"patch"`` is the paper's G (each token decoded into its
    own patch); ``"conv"`` adds a :class:`ConvOutputHead` so that neighbouring patches agree; ``"upsample"``
    replaces the per-patch image by an :class:`UpsampleOutputHead`, ``"windowed"`` by a
    :class:`WindowedOutputHead` (overlapping tiles).
    """

    def __init__(self, *, decoder: MAEDecoder, mca_heads: int | None = None, output_head: str = "patch",
                 head_channels: int = 32) -> None:
        super().__init__()
        if output_head not in OUTPUT_HEADS:
            raise ValueError(f"output_head must be one of {', '.join(OUTPUT_HEADS)}, not {output_head!r}")
        self.decoder = decoder
        self.fusion = CrossFusion(dim=decoder.decoder_dim, num_heads=mca_heads or decoder.blocks[0].attn.num_heads)
        init_vit_weights(self.fusion)
        head = OUTPUT_HEAD_CLASSES.get(output_head)
        self.head = head(dim=decoder.decoder_dim, patch_size=decoder.patch_size, in_chans=decoder.in_chans,
                         channels=head_channels) if head is not None else None
        self.head_from_decoder()

    def load_decoder(self, decoder: MAEDecoder) -> None:
        """Copy a pretrained MAE decoder into G; MCA starts from the decoder's first block, a ``windowed`` head
        from its pixel head."""
        self.decoder.load_state_dict(decoder.state_dict())
        self.fusion_from_decoder()
        self.head_from_decoder()

    def head_from_decoder(self) -> None:
        """Start an output head that can (:meth:`WindowedOutputHead.start_from`) from the decoder's pixel head."""
        if isinstance(self.head, WindowedOutputHead):
            self.head.start_from(self.decoder.pred)

    def fusion_from_decoder(self) -> None:
        """Start MCA from G's own (pretrained) decoder's first block (:meth:`CrossFusion.load_from_block`)."""
        self.fusion.load_from_block(self.decoder.blocks[0])

    def patch_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, 1+N, L) -> the decoder's normalised patch features (B, N, D), what the output head reads."""
        kv = self.decoder.embed(tokens) + self.decoder.pos_embed
        fused = self.fusion(self.decoder.mask_queries(tokens.shape[0]), kv)
        return self.decoder.decode_features(torch.cat([kv[:, :1], fused], dim=1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, 1+N, L) -> images (B, C, H, W) (not clamped)."""
        features = self.patch_features(tokens)
        base = unpatchify(self.decoder.pred(features), self.decoder.patch_size)
        return base if self.head is None else self.head(base, features)


def half_patch_shift(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """x: (B, C, H, W) -> (B, C, H, W), the image moved up and left by s = patch_size // 2 pixels: the first s
    rows and columns are cropped and s reflected ones appended at the bottom and right. Patch (i, j) of the
    result is ``x[.., i·p + s : (i+1)·p + s, j·p + s : (j+1)·p + s]``: it straddles the borders of the
    patches of x, so a step at those borders lies inside it."""
    s = patch_size // 2
    return F.pad(x[..., s:, s:], (0, s, 0, s), mode="reflect")


class TokenDiscriminator(nn.Module):
    """D: a decoder-sized ViT with ``K + 1`` outputs (K emotions, then real/fake) on its [CLS] token.

    Patches are embedded as the encoder does (``patch_embed``, width L), mapped to the decoder width by a
    linear layer (``embed``), given fixed 2D sin-cos positions and a [CLS] token, then run through
    ``depth`` blocks. :meth:`load_from_mae` copies the MAE's patch embedding and decoder embedding/blocks.

    ``views="grid"`` is the paper's D: it judges the image as is, cut into patches on the same grid as G's
    output patches, so G's patch borders always fall on its token borders. ``views="shifted"`` (genfer's, see
    docs/pfvit.md) also judges :func:`half_patch_shift` of the image with the same weights and returns the mean
    of the two views' logits, so G's borders fall inside half of the tokens it sees; Eqs. 7-8 apply unchanged.

    Args:
        image_size, patch_size, in_chans: input geometry.
        encoder_dim: L (width of the patch embedding).
        dim, depth, num_heads, mlp_ratio: decoder size.
        num_classes: K.
        views: ``grid`` or ``shifted``.
    """

    def __init__(
        self,
        *,
        image_size: int,
        patch_size: int,
        in_chans: int,
        encoder_dim: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        num_classes: int,
        views: str = "grid",
    ) -> None:
        super().__init__()
        from timm.layers import PatchEmbed

        if views not in DISC_VIEWS:
            raise ValueError(f"views must be one of {', '.join(DISC_VIEWS)}, not {views!r}")
        self.views = views
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(img_size=image_size, patch_size=patch_size, in_chans=in_chans,
                                      embed_dim=encoder_dim)
        self.embed = nn.Linear(encoder_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        grid = image_size // patch_size
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, grid, cls_token=True).unsqueeze(0), persistent=False)
        self.blocks = transformer_blocks(dim=dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes + 1)
        init_vit_weights(self)
        nn.init.normal_(self.cls_token, std=0.02)

    def token_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, N, dim): the patches on D's grid, embedded (before [CLS] and positions)."""
        return self.embed(self.patch_embed(x))

    def view_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The paper's D on one view: x (B, C, H, W) in [-1, 1] -> (B, K + 1) logits."""
        t = self.token_embeddings(x)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(t))[:, 0])

    def views_of(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, C, H, W) -> the views D judges: [x], or [x, half_patch_shift(x)] for ``shifted``."""
        return [x] if self.views == "grid" else [x, half_patch_shift(x, self.patch_size)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> (B, K + 1) logits, the mean over the views (one batched call)."""
        views = self.views_of(x)
        if len(views) == 1:
            return self.view_logits(x)
        return self.view_logits(torch.cat(views)).unflatten(0, (len(views), -1)).mean(0)

    def load_from_mae(self, mae: MaskedAutoencoder) -> None:
        """Copy the MAE encoder's patch embedding and the MAE decoder's embedding and blocks."""
        self.load_from_parts(mae.encoder, mae.decoder)

    @torch.no_grad()
    def load_from_parts(self, encoder: ViT, decoder: MAEDecoder) -> None:
        """Copy ``encoder``'s patch embedding and ``decoder``'s embedding, blocks and norm (an MAE's, or a
        trained PF-ViT's E and G decoder when a new D is started beside them)."""
        self.patch_embed.load_state_dict(encoder.patch_embed.state_dict())
        self.embed.load_state_dict(decoder.embed.state_dict())
        self.blocks.load_state_dict(decoder.blocks.state_dict())
        self.norm.load_state_dict(decoder.norm.state_dict())


@dataclass
class Separation:
    """E and S applied to a batch.

    z: (B, 1+N, L) encoder tokens; mask: (B, 1, L) σ(S(z)); v_e, v_p: (B, 1+N, L) V_e and V_p;
    logits: (B, K) C(V_e) on the [CLS] token.
    """

    z: torch.Tensor
    mask: torch.Tensor
    v_e: torch.Tensor
    v_p: torch.Tensor
    logits: torch.Tensor


class PFViT(nn.Module):
    """The PF-ViT model: E, S, G, D, C (see the module docstring).

    Args:
        encoder: E (a ViT without head).
        decoder: the MAE decoder G is built on.
        num_classes: K.
        se_reduction: the separator's SE reduction ratio.
        disc_depth: D's depth (default: the decoder's).
        with_generator: build G (False for a recognition-only model: E, S, C).
        with_discriminator: build D (only training needs it).
        output_head, head_channels: G's output head (:class:`PokerFaceGenerator`).
        disc_views: what D sees (:class:`TokenDiscriminator` ``views``).
    """

    def __init__(
        self,
        *,
        encoder: ViT,
        decoder: MAEDecoder,
        num_classes: int,
        se_reduction: int = 16,
        disc_depth: int | None = None,
        with_generator: bool = True,
        with_discriminator: bool = True,
        output_head: str = "patch",
        head_channels: int = 32,
        disc_views: str = "grid",
    ) -> None:
        super().__init__()
        if encoder.num_classes:
            raise ValueError("PF-ViT's encoder must have no head (num_classes=0); C is separate")
        self.encoder = encoder
        self.separator = SqueezeExcitation(dim=encoder.embed_dim, reduction=se_reduction)
        self.generator = PokerFaceGenerator(decoder=decoder, output_head=output_head,
                                            head_channels=head_channels) if with_generator else None
        self.discriminator = TokenDiscriminator(
            image_size=encoder.image_size, patch_size=encoder.patch_size, in_chans=encoder.in_chans,
            encoder_dim=encoder.embed_dim, dim=decoder.decoder_dim, depth=disc_depth or len(decoder.blocks),
            num_heads=decoder.blocks[0].attn.num_heads, num_classes=num_classes, views=disc_views,
        ) if with_discriminator else None
        self.classifier = nn.Linear(encoder.embed_dim, num_classes)
        nn.init.trunc_normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)
        self.num_classes = num_classes
        self.num_features = encoder.embed_dim
        self.patch_size = encoder.patch_size

    # ------------------------------------------------------------------ E, S, C

    def separate(self, x: torch.Tensor) -> Separation:
        """x: (B, C, H, W) -> :class:`Separation` (E, S and C)."""
        z = self.encoder.forward_features(x)
        mask = torch.sigmoid(self.separator(z))
        v_e, v_p = z * mask, z * (1 - mask)
        return Separation(z=z, mask=mask, v_e=v_e, v_p=v_p, logits=self.classifier(v_e[:, 0]))

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, L) the [CLS] token of V_e."""
        z = self.encoder.forward_features(x)
        return (z * torch.sigmoid(self.separator(z)))[:, 0]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """features: (B, L) -> logits (B, K)."""
        return self.classifier(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inference, E → S → C: x (B, C, H, W) -> logits (B, K) (Eq. 4)."""
        return self.forward_head(self.pooled_features(x))

    # ------------------------------------------------------------------ G

    def generate(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, 1+N, L) (V_e + V_p, V_p or V_e) -> images (B, C, H, W) from G."""
        if self.generator is None:
            raise RuntimeError("this PF-ViT was built without its generator (recognition only)")
        return self.generator(tokens)

    def render(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, C, H, W) -> G's three images (B, C, H, W), clamped to [-1, 1], from one batched G call:
        ``x_hat`` = G(V_e + V_p), ``x_tilde`` = G(V_p) (the poker face), ``x_emo`` = G(V_e)."""
        sep = self.separate(x)
        images = self.generate(torch.cat([sep.v_e + sep.v_p, sep.v_p, sep.v_e])).clamp(-1, 1)
        return dict(zip(("x_hat", "x_tilde", "x_emo"), images.unflatten(0, (3, -1)).unbind(0)))  # exports with any B

    @classmethod
    def from_mae(cls, mae: MaskedAutoencoder, *, num_classes: int, se_reduction: int = 16) -> "PFViT":
        """PF-ViT whose E, G and D start from a (pretrained) MAE; its modules are copied, not shared."""
        import copy

        model = cls(encoder=copy.deepcopy(mae.encoder), decoder=copy.deepcopy(mae.decoder), num_classes=num_classes,
                    se_reduction=se_reduction)
        model.generator.fusion_from_decoder()  # G's decoder is already the copy made above
        model.discriminator.load_from_mae(mae)
        return model

    def state_dict_without(self, *prefixes: str) -> dict[str, torch.Tensor]:
        """The state dict minus the tensors under ``prefixes`` (e.g. ``"discriminator."`` for shipping)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(prefixes)}


def build_pfvit(cfg: PFViTModelConfig, *, with_generator: bool = True, with_discriminator: bool = True) -> PFViT:
    """A freshly initialised PF-ViT of the sizes ``cfg`` describes."""
    mae = build_mae(cfg.mae)
    return PFViT(encoder=mae.encoder, decoder=mae.decoder, num_classes=cfg.num_classes,
                 se_reduction=cfg.se_reduction, with_generator=with_generator, with_discriminator=with_discriminator,
                 output_head=cfg.output_head, head_channels=cfg.head_channels, disc_views=cfg.disc_views)


__all__ = [
    "ConvOutputHead",
    "CrossFusion",
    "PFViT",
    "PokerFaceGenerator",
    "Separation",
    "SqueezeExcitation",
    "TokenDiscriminator",
    "build_pfvit",
    "half_patch_shift",
]
