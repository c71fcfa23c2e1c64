"""Trainable heads: the linear probe and its export, attention pooling, full fine-tuning."""

from __future__ import annotations

import torch
from torch import nn

from trainer.learning.heads import (
    AttentionPoolingHead,
    FineTuneModel,
    LinearProbe,
    learnable_parameters,
)


def test_attention_head_has_the_papers_parameter_count():
    head = AttentionPoolingHead(2048, 260, d_model=1024)
    assert learnable_parameters(head) == 10_766_596


def test_attention_head_structure():
    head = AttentionPoolingHead(2048, 260)
    assert not head.queries.weight.requires_grad  # frozen N(0, 1) label queries
    assert not any("self_attn" in name for name, _ in head.named_modules())
    assert head.proj.kernel_size == (1, 1) and head.proj.out_channels == 1024
    assert head.decoder.cross_attn.num_heads == 8
    assert head.decoder.linear1.out_features == 2048
    assert tuple(head.group_weight.shape) == (1, 260, 1024)
    assert torch.count_nonzero(head.group_bias) == 0


def test_attention_head_pools_each_label_over_the_map():
    torch.manual_seed(0)
    head = AttentionPoolingHead(16, 5, d_model=8, heads=2, ffn=16).eval()
    maps = torch.randn(3, 16, 4, 4)
    logits = head(maps)
    assert logits.shape == (3, 5)
    assert head.last_attention.shape == (3, 5, 16)  # one distribution over 16 tokens per label
    assert torch.allclose(head.last_attention.sum(-1), torch.ones(3, 5), atol=1e-5)
    loss = logits.sum()
    loss.backward()
    assert head.proj.weight.grad is not None and head.queries.weight.grad is None


def test_linear_probe_starts_at_the_prior_and_exports_a_plain_linear_layer():
    prior = torch.tensor([0.1, 0.5, 0.9])
    probe = LinearProbe(4, 3, mean=torch.tensor([1.0, 2.0, 3.0, 4.0]), scale=2.0, prior=prior)
    x = torch.randn(5, 4)
    assert torch.allclose(torch.sigmoid(probe(x)), prior.expand(5, 3), atol=1e-5)
    with torch.no_grad():
        probe.own.normal_()
    probe.eval()
    weight, bias = probe.export()
    assert torch.allclose(x @ weight.T + bias, probe(x), atol=1e-5)


def test_linear_probe_shares_weights_down_the_label_tree():
    # label 0 is the parent of 1, which is the parent of 2
    ancestors = torch.tensor([[1.0, 0, 0], [1, 1, 0], [1, 1, 1]])
    probe = LinearProbe(2, 3, ancestors=ancestors, dropout=0.0)
    with torch.no_grad():
        probe.own.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    assert probe.weight().tolist() == [[1, 0], [1, 1], [3, 3]]
    probe.eval()
    weight, _ = probe.export()
    assert weight.tolist() == [[1, 0], [1, 1], [3, 3]]


class _TinyNet(nn.Module):
    """Enough of the timm interface for FineTuneModel."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        assert pre_logits
        return x.mean(dim=(2, 3))


def test_fine_tune_model_trains_every_weight():
    backbone = _TinyNet().eval().requires_grad_(False)
    model = FineTuneModel(backbone, 6, 4)
    assert all(p.requires_grad for p in model.parameters())
    logits = model(torch.randn(2, 3, 8, 8))
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert model.backbone.conv.weight.grad is not None
