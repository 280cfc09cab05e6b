"""Policy network: feature extractor Φ at the lowest resolution → LSTM cell → action logits.

The LSTM cell is written with one Linear and explicit gate slices (not ``nn.LSTMCell``): it
converts to builtin TFLite ops (no Flex SplitV), FLOP counters see its multiply-accumulates, and
it computes exactly ``nn.LSTMCell`` (gate order i, f, g, o).
"""

from __future__ import annotations

import torch
from torch import nn

from train.backbones import Backbone


class GateSliceLSTMCell(nn.Module):
    """``nn.LSTMCell`` semantics with explicit gate slices."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size, bias=True)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gates = self.ih(x) + self.hh(h)
        H = self.hidden_size
        i = torch.sigmoid(gates[:, 0:H])
        f = torch.sigmoid(gates[:, H:2 * H])
        g = torch.tanh(gates[:, 2 * H:3 * H])
        o = torch.sigmoid(gates[:, 3 * H:4 * H])
        c2 = f * c + i * g
        h2 = o * torch.tanh(c2)
        return h2, c2

    @torch.no_grad()
    def load_from_lstmcell(self, cell: nn.LSTMCell) -> None:
        self.ih.weight.copy_(cell.weight_ih)
        self.ih.bias.copy_(cell.bias_ih)
        self.hh.weight.copy_(cell.weight_hh)
        self.hh.bias.copy_(cell.bias_hh)


class PolicyNet(nn.Module):
    """Φ (at s_{L-1}) → LSTM → FC → action logits; Φ + FC head → lowest branch's class logits."""

    def __init__(self, extractor: Backbone, hidden: int, num_actions: int, num_classes: int,
                 dropout: float = 0.0):
        super().__init__()
        self.extractor = extractor
        self.rnn = GateSliceLSTMCell(extractor.num_features, hidden)
        self.action_head = nn.Linear(hidden, num_actions)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.low_head = nn.Linear(extractor.num_features, num_classes)
        self.hidden = hidden

    def features(self, frame: torch.Tensor) -> torch.Tensor:
        return self.extractor(frame)

    def recur(self, feat: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """LSTM + heads on precomputed Φ features: (action_logits, class_logits, h, c)."""
        h2, c2 = self.rnn(feat, h, c)
        return self.action_head(h2), self.low_head(self.dropout(feat)), h2, c2

    def forward(self, frame: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        return self.recur(self.features(frame), h, c)
