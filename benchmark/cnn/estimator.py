"""``LogMelCNN``: the network as a scikit-learn classifier.

Input rows name audio files (a DataFrame with ``path`` and ``speaker`` columns); their
frame-level log-mels come from the feature cache (computed once, never per epoch). Log-mel
bands are standardised with the training rows' statistics, or, with ``speaker_norm``, with
each speaker's own (a test speaker's from their own recordings, unlabelled, as the feature
models' per-speaker scaling). Prediction averages the logits of crops tiling the utterance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.class_weight import compute_class_weight

from benchmark.cnn import data
from benchmark.cnn.network import build, torch_module
from benchmark.cnn.training import Recipe, train
from benchmark.metrics import uar


class LogMelCNN(ClassifierMixin, BaseEstimator):
    """CNN over cached log-mel spectrograms.

    Parameters
    ----------
    n_frames : int
        Crop length in frames (300 = 3 s at a 10 ms hop).
    width, n_blocks, dropout : network size (blocks of conv-BN-ReLU-pool, channels doubling).
    lr, weight_decay : AdamW, the learning rate being the one-cycle schedule's peak.
    batch_size, max_epochs, patience : the schedule's length and early stopping.
    mixup, label_smoothing, spec_augment : regularisation (mixup's Beta parameter, 0: off).
    arch : ``"1d"``, the mel bands as channels of convolutions over time (a TDNN front end);
        ``"2d"``, convolutions over (mel band, frame). The defaults (1-D, width 32, 40 epochs,
        every training speaker used, ``val_fraction = 0``) were chosen on speaker-independent
        RAVDESS and TESS folds: see ``docs/cnn.md`` for the measurements.
    speaker_norm : standardise log-mel bands per speaker instead of globally.
    val_fraction : share of training *speakers* held out for early stopping (0: none, the
        one-cycle schedule's last epoch is kept).
    class_weight : weight the loss by inverse class frequency.
    n_threads : torch intra-op threads (serbench runs one per worker).
    cache_dir, feature_config : where the log-mels are cached and how they are computed.
    """

    def __init__(self, n_frames: int = 300, width: int = 32, n_blocks: int = 4,
                 dropout: float = 0.3, lr: float = 3e-3, weight_decay: float = 1e-2,
                 batch_size: int = 32, max_epochs: int = 40, patience: int = 40,
                 mixup: float = 0.2, label_smoothing: float = 0.1, spec_augment: bool = True,
                 speaker_norm: bool = False, val_fraction: float = 0.0,
                 class_weight: bool = True, n_threads: int = 1, device: str = "auto",
                 seed: int = 0, cache_dir: str | None = None, feature_config=None,
                 verbose: bool = False, arch: str = "1d"):
        self.n_frames = n_frames
        self.width = width
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.mixup = mixup
        self.label_smoothing = label_smoothing
        self.spec_augment = spec_augment
        self.speaker_norm = speaker_norm
        self.val_fraction = val_fraction
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.device = device
        self.seed = seed
        self.cache_dir = cache_dir
        self.feature_config = feature_config
        self.verbose = verbose
        self.arch = arch

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

    @staticmethod
    def _speakers(X: pd.DataFrame) -> np.ndarray:
        return X["speaker"].to_numpy() if "speaker" in X.columns else np.zeros(len(X), int)

    def _normalised(self, X: pd.DataFrame) -> list[np.ndarray]:
        """The rows' log-mels as the network reads them (statistics: see the class doc)."""
        stats = None if self.speaker_norm else (self.band_mean_, self.band_std_)
        return data.normalise(self._logmels(X), self._speakers(X), stats)

    def _device(self):
        torch = torch_module()
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _split(self, speakers: np.ndarray, y_idx: np.ndarray):
        """Hold out a share of training speakers for early stopping (never test speakers)."""
        idx = np.arange(len(speakers))
        if self.val_fraction <= 0 or len(np.unique(speakers)) < 3:
            return idx, idx[:0]
        split = GroupShuffleSplit(1, test_size=self.val_fraction, random_state=self.seed)
        return next(split.split(idx, y_idx, speakers))

    # -- training ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, epoch_callback=None, eval_set=None):
        """``epoch_callback(epoch, val_uar)`` is called after every epoch; it may raise to stop
        (Optuna pruning). ``eval_set=(X_val, y_val)``: rows the callback's UAR is measured on
        (an inner tuning fold's validation speakers), for watching only: the weights kept
        are chosen on the held-out training speakers, or are the last epoch's."""
        torch = torch_module()
        torch.manual_seed(self.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_num_threads(max(1, int(self.n_threads)))
        rng = np.random.default_rng(self.seed)
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        mels, speakers = self._logmels(X), self._speakers(X)
        rows, val = self._split(speakers, y_idx)
        if self.speaker_norm:
            self.band_mean_ = self.band_std_ = None
            norm = data.normalise(mels, speakers, None)
        else:
            self.band_mean_, self.band_std_ = data.band_stats([mels[i] for i in rows])
            norm = data.normalise(mels, speakers, (self.band_mean_, self.band_std_))
        self.n_mels_ = norm[0].shape[0]
        device = self._device()
        net = build(self.n_mels_, len(self.classes_), self.width, self.n_blocks,
                    self.dropout, self.arch).to(device)
        weights = None
        if self.class_weight:
            present = np.unique(y_idx[rows])
            weights = np.ones(len(self.classes_), dtype=np.float32)
            weights[present] = compute_class_weight("balanced", classes=present, y=y_idx[rows])
        recipe = Recipe(self.lr, self.weight_decay, self.batch_size, self.max_epochs,
                        self.patience, self.n_frames, self.spec_augment, self.mixup,
                        self.label_smoothing)
        held_out = [norm[i] for i in val]

        def validate() -> float:
            if not len(val):
                return float("nan")
            return uar(y_idx[val], self._logits(net, held_out).argmax(axis=1))

        monitor = None
        if eval_set is not None:
            eval_norm, eval_y = self._normalised(eval_set[0]), np.asarray(eval_set[1])

            def monitor() -> float:
                return uar(eval_y, self.classes_[self._logits(net, eval_norm).argmax(axis=1)])

        done = train(net, data.Padded(norm, self.n_frames), y_idx, rows, len(self.classes_),
                     recipe, weights, validate, rng, device, epoch_callback, self.verbose,
                     monitor)
        net.load_state_dict(done.state)
        self.net_ = net.eval()
        self.history_ = done.history
        self.best_val_uar_ = done.best
        self.n_epochs_ = len(done.history)
        self.seconds_per_epoch_ = done.seconds_per_epoch
        return self

    # -- prediction -------------------------------------------------------------------------
    def _logits(self, net, norm: list[np.ndarray], batch: int = 256) -> np.ndarray:
        """Mean logits of each utterance's tiles; tiles of consecutive utterances go through
        the network in batches of about ``batch`` (eval-mode layers treat rows alike, so the
        batching changes nothing but the speed)."""
        torch = torch_module()
        device = next(net.parameters()).device
        out, start = [], 0
        net.eval()
        with torch.no_grad():
            while start < len(norm):
                crops, stop, n = [], start, 0
                while stop < len(norm) and n < batch:
                    crops.append(data.tiles(norm[stop], self.n_frames))
                    n, stop = n + len(crops[-1]), stop + 1
                counts = np.array([len(c) for c in crops])
                x = torch.from_numpy(np.concatenate(crops)[:, None]).to(device)
                logits = net(x).cpu().numpy()
                out.append(np.add.reduceat(logits, np.r_[0, np.cumsum(counts)[:-1]], axis=0)
                           / counts[:, None])
                start = stop
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        logits = self._logits(self.net_, self._normalised(X))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

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
            torch = torch_module()
            net = build(self.n_mels_, len(self.classes_), self.width, self.n_blocks,
                        self.dropout, getattr(self, "arch", "2d"))
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.net_ = net.eval()
