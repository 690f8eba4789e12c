"""The linear SVM solved in the training rows' span is the linear SVM: same scores, same labels."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from benchmark.models import MODELS, build_pipeline
from benchmark.span import RowSpan


def _wide(n=90, p=600, classes=3, seed=0):
    """Fewer rows than columns, classes apart in a few columns, features in [0, 1] like the
    pipeline's MinMax output (positive, so the intercept matters)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n // classes)
    X = rng.random((n, p))
    X[:, :10] += 0.3 * y[:, None] * rng.random(10)
    return X, y


@pytest.mark.parametrize("C", [1e-3, 0.1, 1.0])
def test_the_span_fit_scores_new_rows_as_the_full_fit_does(C):
    X, y = _wide()
    Xnew, _ = _wide(seed=1)
    full = LinearSVC(C=C, tol=1e-8, max_iter=200_000).fit(X, y)
    span = make_pipeline(RowSpan(constant=1.0),
                         LinearSVC(C=C, tol=1e-8, max_iter=200_000, fit_intercept=False))
    span.fit(X, y)
    assert span[0].rank_ == len(X)  # the projection happened: 90 coordinates, not 601
    a, b = full.decision_function(Xnew), span.decision_function(Xnew)
    np.testing.assert_allclose(b, a, atol=1e-4 * np.abs(a).max())
    np.testing.assert_array_equal(span.predict(Xnew), full.predict(Xnew))


def test_rows_pass_through_with_the_constant_when_not_fewer_than_columns():
    X, _ = _wide(n=90, p=20)
    out = RowSpan(constant=2.0).fit_transform(X)
    np.testing.assert_array_equal(out, np.hstack([X, np.full((90, 1), 2.0)]))


def test_a_wide_training_set_gets_coordinates_that_keep_its_geometry():
    """Inner products between rows (the only thing an L2 linear model sees) are kept, for
    the training rows and between new and training rows alike."""
    X, _ = _wide()
    Xnew, _ = _wide(seed=2)
    rs = RowSpan(constant=None)
    Z = rs.fit_transform(X)
    np.testing.assert_allclose(Z @ Z.T, X @ X.T, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rs.transform(Xnew) @ Z.T, Xnew @ X.T, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rs.transform(X), Z, atol=1e-8)


def test_the_registered_linear_svm_uses_the_span():
    pipe = build_pipeline(MODELS["svm_linear"], {}, speaker_norm=False)
    assert isinstance(pipe.named_steps["clf"][0], RowSpan)


@parametrize_with_checks([RowSpan(), RowSpan(constant=None)])
def test_sklearn_contract(estimator, check):
    check(estimator)
