"""Wide tables, small corpora: L2-regularised linear models solved in the training rows' span.

An L2-regularised linear model's weights lie in the span of its training rows (the
representer theorem: a component orthogonal to every row changes no training score and only
adds to the penalty). With n rows and p > n columns, as ComParE's 6,373 columns on a fold of
RAVDESS's 1,440 files, the same problem can be solved on n coordinates instead of p: project
every row onto an orthonormal basis V of the training rows' span, fit on ``X @ V``, and the
fitted model scores ``x @ V`` exactly as the p-column model scores ``x``. Same optimum, same
penalty, same predictions up to the solver's tolerance (tested against the p-column fit);
liblinear's iterations cost O(n r) instead of O(n p), and converge no slower.

Schölkopf, Herbrich & Smola, A generalized representer theorem, COLT 2001,
doi:10.1007/3-540-44581-1_27.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

#: Directions whose squared singular value is below this fraction of the largest carry no
#: training row (rounding only): a model's weights along them are zero.
RANK_RTOL = 1e-12


class RowSpan(TransformerMixin, BaseEstimator):
    """Coordinates of each row in an orthonormal basis of the training rows' span.

    Parameters
    ----------
    constant : float or None
        Appended to every row as a last column before projecting: the regularised intercept
        of liblinear (its ``intercept_scaling``), whose model then fits with
        ``fit_intercept=False``. ``None`` for models whose intercept is not penalised (the
        lbfgs logistic regression), which fit their own.

    Attributes
    ----------
    rows_ : ndarray, shape (n_rows, n_features_in_ [+ 1]) or None
        The training rows (with the constant); None when they are not fewer than the columns
        (the projection would save nothing: rows pass through).
    weights_ : ndarray, shape (n_rows, rank_) or None
        U L^(-1/2): a row's coordinates are its products with the training rows, weighted.
    rank_ : int
    """

    def __init__(self, constant: float | None = 1.0):
        self.constant = constant

    def _rows(self, X) -> np.ndarray:
        if self.constant is None:
            return X
        return np.hstack([X, np.full((X.shape[0], 1), self.constant, dtype=X.dtype)])

    def fit(self, X, y=None):
        self._fit(X)
        return self

    def fit_transform(self, X, y=None, **fit_params) -> np.ndarray:
        return self._fit(X)

    def _fit(self, X) -> np.ndarray:
        """Fit; return the training rows' coordinates (no second pass over the columns)."""
        X = self._rows(validate_data(self, X, dtype=np.float64))
        n, p = X.shape
        if n >= p:
            self.rows_, self.weights_, self.rank_ = None, None, p
            return X
        # From the n x n Gram matrix X X^T = U L U^T: the training rows' coordinates are
        # U L^(1/2), a new row x's are x X^T U L^(-1/2). One BLAS product and an n x n
        # eigendecomposition: several times faster than an SVD of the n x p rows.
        lam, U = scipy.linalg.eigh(X @ X.T, driver="evd")
        keep = lam > RANK_RTOL * lam[-1]
        lam, U = lam[keep], U[:, keep]
        self.rows_, self.weights_ = X, U / np.sqrt(lam)
        self.rank_ = int(keep.sum())
        return U * np.sqrt(lam)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "rank_")
        X = self._rows(validate_data(self, X, dtype=np.float64, reset=False))
        return X if self.rows_ is None else (X @ self.rows_.T) @ self.weights_
