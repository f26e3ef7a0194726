"""Exact cross-validated linear regressions on cross-products shared by every split.

All four regressions (PLS, ridge, GCV ridge, least squares) depend on the data only through
cross-products, so they are computed once for all stimuli and every split gets its own
from them: the training rows' products are the full ones minus the held-out rows, and
centering on the training means is a rank-one correction, never a copy of the data.

Two sides are available. With at least as many features as stimuli (``p >= n``, the usual
case for model layers) the stimulus side is used: the Gram matrix ``K = X X'`` (n x n), of
which each split's training block is a plain sub-block. With fewer features the feature
side ``X'X`` (p x p) and ``X'Y`` (p x q) is used, downdated by the held-out rows. PLS always
runs on the stimulus side, where its per-component products of all splits share one pass
over ``K``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

Split = tuple[np.ndarray, np.ndarray]


def _gram(a: np.ndarray) -> np.ndarray:
    """``a' a`` for a (rows x columns) array (numpy calls BLAS syrk: exactly symmetric)."""
    return a.T @ a


class CrossProducts:
    """Cross-products of a source (n x p) and target (n x q), computed once, per split on use."""

    def __init__(self, source: np.ndarray, target: np.ndarray) -> None:
        self.source = np.ascontiguousarray(source, dtype=np.float64)
        self.target = np.ascontiguousarray(target, dtype=np.float64)
        n, p = self.source.shape
        self.stimulus_side = p >= n
        self._kernel: np.ndarray | None = None
        self._feature: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def kernel(self) -> np.ndarray:
        """``X X'`` over all stimuli (n x n)."""
        if self._kernel is None:
            self._kernel = _gram(self.source.T)
        return self._kernel

    @property
    def feature(self) -> tuple[np.ndarray, np.ndarray]:
        """``X'X`` (p x p) and ``X'Y`` (p x q) over all stimuli."""
        if self._feature is None:
            self._feature = (_gram(self.source), self.source.T @ self.target)
        return self._feature

    def split(self, train: np.ndarray, test: np.ndarray) -> _SplitProducts:
        """The centered training products of one split and how to predict its test rows."""
        X, Y = self.source, self.target
        y_mean = Y[train].mean(axis=0)
        if self.stimulus_side:
            K = self.kernel
            block = K[np.ix_(train, train)]
            uncentered_trace = float(np.trace(block))
            row_means = block.mean(axis=1)
            # H K H with H = I - 11'/n: the centering as a rank-one correction of the block.
            block -= row_means[:, None]
            block -= row_means[None, :]
            block += row_means.mean()
            centered_targets = Y[train] - y_mean
            return _SplitProducts(
                gram=block,
                rhs=centered_targets,
                centered_targets=centered_targets,
                test_products=K[np.ix_(test, train)],
                offset=row_means,
                y_mean=y_mean,
                train=train,
                stimulus_side=True,
                uncentered_trace=uncentered_trace,
            )
        XtX, XtY = self.feature
        held_X, held_Y = X[test], Y[test]
        count = len(train)
        x_mean = (X.sum(axis=0) - held_X.sum(axis=0)) / count
        gram = XtX - _gram(held_X) - count * np.outer(x_mean, x_mean)
        rhs = XtY - held_X.T @ held_Y - count * np.outer(x_mean, y_mean)
        return _SplitProducts(
            gram=gram,
            rhs=rhs,
            centered_targets=Y[train] - y_mean,
            test_products=held_X - x_mean,
            offset=None,
            y_mean=y_mean,
            train=train,
            stimulus_side=False,
            uncentered_trace=float(np.trace(XtX)),
            train_centered=X[train] - x_mean,
        )


@dataclass
class _SplitProducts:
    """One split: ``gram @ Z = rhs``-style systems and the map from ``Z`` to predictions.

    On the stimulus side ``Z`` holds dual coefficients (n_train x q), on the feature side
    regression weights (p x q); :meth:`predict` turns either into held-out predictions.
    """

    gram: np.ndarray
    rhs: np.ndarray
    centered_targets: np.ndarray
    test_products: np.ndarray
    offset: np.ndarray | None
    y_mean: np.ndarray
    train: np.ndarray
    stimulus_side: bool
    uncentered_trace: float
    train_centered: np.ndarray | None = None

    def predict(self, solution: np.ndarray) -> np.ndarray:
        predictions = self.test_products @ solution
        if self.offset is not None:
            # Centering the test rows on the training mean; dual solutions sum to zero.
            predictions -= self.offset @ solution
        return predictions + self.y_mean

    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (rounding noise zeroed) and eigenvectors of ``gram``.

        Centering by a rank-one correction cancels large uncentered entries, so rounding
        noise scales with the uncentered trace, not with the centered eigenvalues: values
        below ``size * eps * trace`` are treated as zero (e.g. the constant direction).
        """
        values, vectors = scipy.linalg.eigh(self.gram, driver="evd")
        tolerance = len(values) * np.finfo(float).eps * max(self.uncentered_trace, values[-1])
        return np.where(values > tolerance, values, 0.0), vectors


def ridge_solution(split: _SplitProducts, alpha: float) -> np.ndarray:
    """Ridge with an unpenalized intercept: solves ``(gram + alpha I) Z = rhs`` (Cholesky)."""
    system = split.gram.copy()
    system[np.diag_indices_from(system)] += alpha
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(system, lower=True), split.rhs)


def least_squares_solution(split: _SplitProducts) -> np.ndarray:
    """Minimum-norm least squares (as ``LinearRegression``): pseudo-inverse of ``gram``."""
    values, vectors = split.eigen()
    inverse = np.divide(1.0, values, out=np.zeros_like(values), where=values > 0)
    return vectors @ (inverse[:, None] * (vectors.T @ split.rhs))


def ridgecv_solution(
    split: _SplitProducts, alphas: np.ndarray, *, alpha_per_target: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with the alpha of least exact leave-one-out error, from one eigendecomposition.

    The leave-one-out residual of training stimulus i is ``(y_i - yhat_i) / (1 - h_ii)`` with
    the hat matrix ``h = 11'/n + U diag(s / (s + alpha)) U'``, where ``U diag(s) U'`` is the
    eigendecomposition of the centered training Gram matrix (the intercept is refitted in
    every leave-one-out fit, as in scikit-learn's ``RidgeCV``). Returns the solution and
    the chosen alpha per target.
    """
    values, vectors = split.eigen()
    centered_y = split.centered_targets
    if split.stimulus_side:
        basis, spectrum = vectors, values
    else:
        # Left singular vectors of the centered training data: X_c V / sqrt(s).
        kept = values > 0
        basis = split.train_centered @ vectors[:, kept] / np.sqrt(values[kept])
        spectrum = values[kept]
    projected = basis.T @ centered_y
    squared_basis = basis * basis
    count = basis.shape[0]
    errors = np.empty((len(alphas), centered_y.shape[1]))
    for position, alpha in enumerate(alphas):
        shrink = spectrum / (spectrum + alpha)
        fitted = basis @ (shrink[:, None] * projected)
        leverage = 1.0 / count + squared_basis @ shrink
        residuals = (centered_y - fitted) / (1.0 - leverage)[:, None]
        errors[position] = np.mean(residuals * residuals, axis=0)
    if alpha_per_target:
        chosen = np.asarray(alphas)[np.argmin(errors, axis=0)]
    else:
        chosen = np.full(centered_y.shape[1], alphas[int(np.argmin(errors.mean(axis=1)))])
    weights = vectors.T @ split.rhs
    solution = vectors @ (weights / (values[:, None] + chosen[None, :]))
    return solution, chosen


def pls_predictions(
    products: CrossProducts, splits: Sequence[Split], n_components: int
) -> tuple[list[np.ndarray], list[int]]:
    """Held-out predictions of PLS regression (no scaling) for every split, exactly.

    The kernel algorithm of Dayal & MacGregor (1997, "Improved PLS algorithms", algorithm
    2) in its stimulus-space form: per component, the weight direction is the dominant
    eigenvector ``c`` of the q x q matrix ``M = Y_a' K_c Y_a`` (``= (X'Y_a)'(X'Y_a)``), found
    by a direct symmetric eigensolver rather than NIPALS power iterations; only the
    cross-products are deflated (``M`` by a rank-two update, ``K_c Y_a`` by a rank-one one),
    never the data. All splits advance together so the one product with ``K`` that each
    component needs is a single pass over ``K`` for all of them. Equals scikit-learn's
    ``PLSRegression(scale=False)`` run to convergence.

    Returns the predictions per split and the number of components each could extract
    (fewer than asked when the training responses are fully explained earlier).
    """
    K = products.kernel
    Y = products.target
    n = len(Y)
    kernel_targets = K @ Y
    kernel_sums = K.sum(axis=1)
    states = [_PLSState.start(K, Y, kernel_targets, kernel_sums, train, test, n_components)
              for train, test in splits]
    embedded = np.zeros((n, len(states)))
    for component in range(n_components):
        embedded[:] = 0.0
        for column, state in enumerate(states):
            if state.active:
                state.new_scores(component)
                embedded[state.train, column] = state.scores[:, component]
        kernel_scores = K @ embedded
        for column, state in enumerate(states):
            if state.active:
                state.deflate(component, kernel_scores[state.train, column])
    return [state.predict(K, Y) for state in states], [state.extracted for state in states]


class _PLSState:
    """Per-split state of the kernel PLS iteration (see :func:`pls_predictions`)."""

    def __init__(self) -> None:
        self.active = True
        self.extracted = 0

    @classmethod
    def start(cls, K, Y, kernel_targets, kernel_sums, train, test, n_components) -> _PLSState:
        state = cls()
        state.train, state.test = train, test
        count = len(train)
        state.y_mean = Y[train].mean(axis=0)
        state.residual = Y[train] - state.y_mean  # Y_a, centered
        cross = K[np.ix_(train, test)]
        # K_train Y_train and K_train 1 from the full products minus the held-out columns.
        train_targets = kernel_targets[train] - cross @ Y[test]
        train_sums = kernel_sums[train] - cross.sum(axis=1)
        state.row_means = train_sums / count
        products = train_targets - np.outer(train_sums, state.y_mean)
        products -= products.mean(axis=0)  # K_c Y_a with K_c = H K_train H
        state.kernel_residual = products
        state.moment = state.residual.T @ products  # M = Y_a' K_c Y_a
        state.scores = np.zeros((count, n_components))  # T = X_c R
        state.dual_rotations = np.zeros((count, n_components))  # R = X_c' A
        state.loadings = np.zeros((Y.shape[1], n_components))  # Q
        state.norms = np.zeros(n_components)  # t't
        state.first_value = None
        return state

    def new_scores(self, component: int) -> None:
        moment = (self.moment + self.moment.T) / 2
        size = len(moment)
        value, vector = scipy.linalg.eigh(moment, subset_by_index=[size - 1, size - 1])
        value, vector = float(value[0]), vector[:, 0]
        if self.first_value is None:
            self.first_value = value
        if not value > self.first_value * 1e-13:
            self.active = False  # the responses are explained: no direction left
            return
        scale = 1.0 / np.sqrt(value)
        weights = self.residual @ vector * scale  # w = X_c' a_w
        projected = self.kernel_residual @ vector * scale  # X_c w
        previous = slice(0, component)
        coefficients = self.scores[:, previous].T @ projected / self.norms[previous]
        scores = projected - self.scores[:, previous] @ coefficients
        rotations = self.dual_rotations
        rotations[:, component] = weights - rotations[:, previous] @ coefficients
        self.scores[:, component] = scores
        self.norms[component] = scores @ scores

    def deflate(self, component: int, kernel_scores: np.ndarray) -> None:
        scores = self.scores[:, component]
        norm = self.norms[component]
        kernel_scores = kernel_scores - kernel_scores.mean()  # K_c t = H K_train t
        loadings = self.residual.T @ scores / norm
        cross = self.kernel_residual.T @ scores  # Y_a' K_c t
        curvature = scores @ kernel_scores  # t' K_c t
        self.moment -= np.outer(loadings, cross)
        self.moment -= np.outer(cross, loadings)
        self.moment += curvature * np.outer(loadings, loadings)
        self.kernel_residual -= np.outer(kernel_scores, loadings)
        self.residual -= np.outer(scores, loadings)
        self.loadings[:, component] = loadings
        self.extracted = component + 1

    def predict(self, K: np.ndarray, Y: np.ndarray) -> np.ndarray:
        used = slice(0, self.extracted)
        dual = self.dual_rotations[:, used] @ self.loadings[:, used].T
        predictions = K[np.ix_(self.test, self.train)] @ dual
        predictions -= self.row_means @ dual
        return predictions + self.y_mean
