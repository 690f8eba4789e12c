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
    if arch not in ("2d", "1d"):
        raise ValueError(f"arch {arch!r} is not one of ('2d', '1d')")
    temporal = arch == "1d"
    conv, norm, pool = ((nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if temporal else
                        (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d))
    kernel = 5 if temporal else 3

    class LogMelNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], n_mels if temporal else 1
            for b in range(n_blocks):
                out = width * 2**b
                layers += [conv(channels, out, kernel, padding=kernel // 2, bias=False),
                           norm(out), nn.ReLU(inplace=True), pool(2)]
                channels = out
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, n_classes))

        def forward(self, x):
            # (batch, channels, frames): bands as channels, or pooled over what is left of them
            h = self.features(x[:, 0]) if temporal else self.features(x).mean(dim=2)
            stats = torch.cat([h.mean(dim=2), h.std(dim=2, unbiased=False)], dim=1)
            return self.head(stats)

    return LogMelNet()
