"""A small 2-D CNN on log-mel spectrograms, as a scikit-learn classifier.

Input rows name audio files (a DataFrame with ``path`` and ``speaker`` columns); their
frame-level log-mels come from the feature cache (computed once, never per epoch). Training
uses random crops, optional SpecAugment masks (Park et al. 2019, doi:10.21437/Interspeech.
2019-2680), class-weighted cross-entropy, Adam, and early stopping on a validation split of
*training speakers*; prediction averages the logits of crops tiling the whole utterance.
Per-band normalisation statistics come from the training rows only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.class_weight import compute_class_weight

from benchmark.metrics import uar


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("the CNN needs PyTorch: pip install 'serbench[cnn]' "
                          "(torch==2.13.0, a CPU build)") from exc
    return torch


def _network(n_mels: int, n_classes: int, width: int, n_blocks: int, dropout: float):
    torch = _torch()
    nn = torch.nn
    layers, channels = [], 1
    for b in range(n_blocks):
        out = width * 2**b
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                         nn.Linear(channels, n_classes))


def _crop(x: np.ndarray, length: int, start: int) -> np.ndarray:
    """``x`` (n_mels, n_frames) cropped or zero-padded (after normalisation) to ``length``."""
    if x.shape[1] >= length:
        return x[:, start:start + length]
    out = np.zeros((x.shape[0], length), dtype=x.dtype)
    out[:, : x.shape[1]] = x
    return out


class LogMelCNN(ClassifierMixin, BaseEstimator):
    """Small CNN over cached log-mel spectrograms.

    Parameters
    ----------
    n_frames : int
        Crop length in frames (300 = 3 s at a 10 ms hop).
    width, n_blocks, dropout : network size (conv-BN-ReLU-pool blocks, channels doubling).
    lr, batch_size, max_epochs, patience : Adam learning rate and early stopping.
    val_fraction : share of training *speakers* held out for early stopping.
    spec_augment : apply two time and two frequency masks per training crop.
    class_weight : weight the loss by inverse class frequency.
    n_threads : torch intra-op threads (serbench runs one per worker).
    cache_dir, feature_config : where the log-mels are cached and how they are computed.
    """

    def __init__(self, n_frames: int = 300, width: int = 16, n_blocks: int = 3,
                 dropout: float = 0.3, lr: float = 1e-3, batch_size: int = 32,
                 max_epochs: int = 30, patience: int = 6, val_fraction: float = 0.2,
                 spec_augment: bool = True, class_weight: bool = True, n_threads: int = 1,
                 device: str = "auto", seed: int = 0, cache_dir: str | None = None,
                 feature_config=None, verbose: bool = False):
        self.n_frames = n_frames
        self.width = width
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.spec_augment = spec_augment
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.device = device
        self.seed = seed
        self.cache_dir = cache_dir
        self.feature_config = feature_config
        self.verbose = verbose

    # -- data ------------------------------------------------------------------------------
    def _logmels(self, X: pd.DataFrame) -> list[np.ndarray]:
        from features import FeatureBank, FeatureConfig
        from features.cache import Cache
        from features.parallel import extract

        if not isinstance(X, pd.DataFrame) or "path" not in X.columns:
            raise ValueError("LogMelCNN needs a DataFrame with a 'path' column")
        bank = FeatureBank(self.feature_config or FeatureConfig())
        values, report = extract(list(X["path"]), bank, Cache(self.cache_dir), kind="logmel",
                                 n_jobs=1, progress=False)
        if report.errors:
            raise ValueError(f"{len(report.errors)} file(s) failed: "
                             + "; ".join(r for _, r in report.errors[:5]))
        return values

    def _device(self):
        torch = _torch()
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    # -- training ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, epoch_callback=None):
        """``epoch_callback(epoch, val_uar)`` is called after every epoch; it may raise to stop
        (Optuna pruning)."""
        torch = _torch()
        torch.manual_seed(self.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_num_threads(max(1, int(self.n_threads)))
        rng = np.random.default_rng(self.seed)
        y = np.asarray(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        mels = self._logmels(X)
        speakers = X["speaker"].to_numpy() if "speaker" in X.columns else np.arange(len(X))
        train, val = self._split(speakers, y_idx)
        frames = np.concatenate([mels[i] for i in train], axis=1)
        self.band_mean_ = frames.mean(axis=1, keepdims=True).astype(np.float32)
        self.band_std_ = (frames.std(axis=1, keepdims=True) + 1e-5).astype(np.float32)
        norm = [((m - self.band_mean_) / self.band_std_).astype(np.float32) for m in mels]
        device = self._device()
        net = _network(norm[0].shape[0], len(self.classes_), self.width, self.n_blocks,
                       self.dropout).to(device)
        weights = None
        if self.class_weight:
            present = np.unique(y_idx[train])
            w = np.ones(len(self.classes_), dtype=np.float32)
            w[present] = compute_class_weight("balanced", classes=present, y=y_idx[train])
            weights = torch.tensor(w, device=device)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        best, best_state, waited = -1.0, None, 0
        self.history_ = []
        for epoch in range(self.max_epochs):
            net.train()
            order = rng.permutation(train)
            for k in range(0, len(order), self.batch_size):
                batch = order[k:k + self.batch_size]
                xb = np.stack([self._train_crop(norm[i], rng) for i in batch])
                xb = torch.from_numpy(xb[:, None]).to(device)
                yb = torch.from_numpy(y_idx[batch]).to(device)
                opt.zero_grad()
                loss_fn(net(xb), yb).backward()
                opt.step()
            score = uar(y_idx[val], self._predict_idx(net, [norm[i] for i in val])) \
                if len(val) else float("nan")
            self.history_.append(score)
            if self.verbose:
                print(f"epoch {epoch}: val UAR {score:.3f}")
            if epoch_callback is not None:
                epoch_callback(epoch, score)
            if not len(val) or score > best:
                best, waited = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= self.patience:
                    break
        net.load_state_dict(best_state)
        self.net_ = net.eval()
        self.best_val_uar_ = best
        self.n_epochs_ = len(self.history_)
        return self

    def _split(self, speakers: np.ndarray, y_idx: np.ndarray):
        """Hold out a share of training speakers for early stopping (never test speakers)."""
        idx = np.arange(len(speakers))
        if self.val_fraction <= 0 or len(np.unique(speakers)) < 3:
            return idx, idx[:0]
        split = GroupShuffleSplit(1, test_size=self.val_fraction, random_state=self.seed)
        train, val = next(split.split(idx, y_idx, speakers))
        return train, val

    def _train_crop(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        start = int(rng.integers(0, max(1, x.shape[1] - self.n_frames + 1)))
        c = _crop(x, self.n_frames, start).copy()
        if self.spec_augment:
            for _ in range(2):
                f = int(rng.integers(0, c.shape[0] // 8 + 1))
                f0 = int(rng.integers(0, c.shape[0] - f + 1))
                c[f0:f0 + f] = 0.0
                t = int(rng.integers(0, self.n_frames // 10 + 1))
                t0 = int(rng.integers(0, self.n_frames - t + 1))
                c[:, t0:t0 + t] = 0.0
        return c

    def _crops(self, x: np.ndarray) -> np.ndarray:
        """Crops tiling the utterance (half-overlapping), so nothing is thrown away."""
        n = x.shape[1]
        if n <= self.n_frames:
            return _crop(x, self.n_frames, 0)[None]
        starts = list(range(0, n - self.n_frames + 1, self.n_frames // 2))
        if starts[-1] != n - self.n_frames:
            starts.append(n - self.n_frames)
        return np.stack([x[:, s:s + self.n_frames] for s in starts])

    def _logits(self, net, norm: list[np.ndarray]) -> np.ndarray:
        torch = _torch()
        device = next(net.parameters()).device
        out = []
        net.eval()
        with torch.no_grad():
            for x in norm:
                crops = torch.from_numpy(self._crops(x)[:, None]).to(device)
                out.append(net(crops).mean(0).cpu().numpy())
        return np.stack(out) if out else np.zeros((0, len(self.classes_)))

    def _predict_idx(self, net, norm) -> np.ndarray:
        return self._logits(net, norm).argmax(axis=1)

    def _normalised(self, X) -> list[np.ndarray]:
        return [((m - self.band_mean_) / self.band_std_).astype(np.float32)
                for m in self._logmels(X)]

    # -- persistence: weights as plain arrays, so skops (no pickle) can store the model -------
    def __getstate__(self):
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        if net is not None:
            state["net_weights_"] = {k: v.detach().cpu().numpy()
                                     for k, v in net.state_dict().items()}
        return state

    def __setstate__(self, state):
        weights = state.pop("net_weights_", None)
        self.__dict__.update(state)
        if weights is not None:
            torch = _torch()
            net = _network(len(self.band_mean_), len(self.classes_), self.width, self.n_blocks,
                           self.dropout)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.net_ = net.eval()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        logits = self._logits(self.net_, self._normalised(X))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
