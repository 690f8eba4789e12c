"""The training loop: AdamW under a one-cycle learning-rate schedule (Smith & Topin 2019,
doi:10.1117/12.2520589), class-weighted cross-entropy with label smoothing, mixup (Zhang et
al. 2018, arXiv:1710.09412) and SpecAugment on random crops, early stopping on the UAR of
held-out *training* speakers; the best epoch's weights are kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.cnn.data import Padded, spec_augment
from benchmark.cnn.network import torch_module


@dataclass(frozen=True)
class Recipe:
    lr: float  # the one-cycle schedule's peak
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int  # epochs without a better validation UAR before stopping
    n_frames: int  # crop length
    spec_augment: bool
    mixup: float  # Beta(a, a) mixing; 0 turns it off
    label_smoothing: float


@dataclass
class Trained:
    state: dict  # the best epoch's weights
    history: list[float]  # validation UAR per epoch
    best: float
    seconds_per_epoch: float


def train(net, data: Padded, y_idx: np.ndarray, rows: np.ndarray, n_classes: int,
          recipe: Recipe, class_weights: np.ndarray | None, validate: Callable[[], float],
          rng: np.random.Generator, device, epoch_callback=None, verbose=False,
          monitor: Callable[[], float] | None = None) -> Trained:
    """Train ``net`` on random crops of ``data``'s ``rows``; ``validate()`` scores the current
    net (NaN without a validation split: then the last epoch is kept). ``monitor()``, if
    given, is what ``epoch_callback`` and the history see instead (it never picks weights)."""
    torch = torch_module()
    weight = None if class_weights is None else torch.tensor(class_weights, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=recipe.label_smoothing)
    steps = max(1, int(np.ceil(len(rows) / recipe.batch_size)))
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr,
                                                   total_steps=steps * recipe.max_epochs)
    best, best_state, waited, history = -np.inf, None, 0, []
    t0 = time.perf_counter()
    for epoch in range(recipe.max_epochs):
        net.train()
        order = rng.permutation(rows)
        for k in range(0, len(order), recipe.batch_size):
            batch = order[k:k + recipe.batch_size]
            xb = data.random_crops(batch, recipe.n_frames, rng)
            if recipe.spec_augment:
                spec_augment(xb, rng)
            xb = torch.from_numpy(xb[:, None]).to(device)
            yb = torch.from_numpy(y_idx[batch]).to(device)
            opt.zero_grad()
            if recipe.mixup > 0 and len(batch) > 1:
                lam = float(rng.beta(recipe.mixup, recipe.mixup))
                perm = torch.from_numpy(rng.permutation(len(batch))).to(device)
                out = net(lam * xb + (1 - lam) * xb[perm])
                loss = lam * loss_fn(out, yb) + (1 - lam) * loss_fn(out, yb[perm])
            else:
                loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            schedule.step()
        score = validate()
        watched = score if monitor is None else monitor()
        history.append(watched)
        if verbose:
            print(f"epoch {epoch}: val UAR {watched:.3f}")
        if epoch_callback is not None:
            epoch_callback(epoch, watched)
        if np.isnan(score) or score > best:
            best, waited = score, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= recipe.patience:
                break
    return Trained(best_state, history, float(best),
                   (time.perf_counter() - t0) / max(1, len(history)))
