"""The network: convolution blocks over (mel band, frame), then frequency pooling and
statistics pooling over time (mean and standard deviation, as x-vector embeddings do: Snyder
et al. 2018, doi:10.1109/ICASSP.2018.8461375), so an utterance of any length gives one vector
and how much a pattern varies in time counts, not only its average."""

from __future__ import annotations


def torch_module():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("the CNN needs PyTorch: pip install 'serbench[cnn]' "
                          "(torch==2.13.0, a CPU build)") from exc
    return torch


def build(n_mels: int, n_classes: int, width: int, n_blocks: int, dropout: float,
          arch: str = "2d"):
    """conv3x3-BN-ReLU-maxpool2 blocks (channels ``width * 2**b``), mean over the remaining
    mel bands, mean and std over frames, dropout, a linear layer. Input (batch, 1, n_mels,
    n_frames); output (batch, n_classes) logits. ``arch="1d"``: the mel bands are the
    input channels of conv5-BN-ReLU-maxpool2 blocks over time (a TDNN, as x-vector front ends),
    channels ``width * 2**b``."""
    torch = torch_module()
    nn = torch.nn
    if arch == "1d":
        return _temporal(nn, torch, n_mels, n_classes, width, n_blocks, dropout)
    if arch != "2d":
        raise ValueError(f"arch {arch!r} is not one of ('2d', '1d')")

    class LogMelNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], 1
            for b in range(n_blocks):
                out = width * 2**b
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False),
                           nn.BatchNorm2d(out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
                channels = out
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, n_classes))

        def forward(self, x):
            h = self.features(x).mean(dim=2)  # (batch, channels, frames)
            stats = torch.cat([h.mean(dim=2), h.std(dim=2, unbiased=False)], dim=1)
            return self.head(stats)

    return LogMelNet()


def _temporal(nn, torch, n_mels, n_classes, width, n_blocks, dropout):
    class TemporalNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], n_mels
            for b in range(n_blocks):
                out = width * 2**b
                layers += [nn.Conv1d(channels, out, 5, padding=2, bias=False),
                           nn.BatchNorm1d(out), nn.ReLU(inplace=True), nn.MaxPool1d(2)]
                channels = out
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, n_classes))

        def forward(self, x):
            h = self.features(x[:, 0])  # (batch, channels, frames)
            stats = torch.cat([h.mean(dim=2), h.std(dim=2, unbiased=False)], dim=1)
            return self.head(stats)

    return TemporalNet()
