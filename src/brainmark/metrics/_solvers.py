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
    by a direct symmetric eigensolver (LAPACK ``dsyevx``) rather than NIPALS power
    iterations. Only ``M`` is deflated, by a rank-two update per component; the deflated
    responses ``Y_a = Y_c - T Q'`` are never formed: each product with them is a product
    with ``Y`` (or ``K_c Y_c``, kept per split) corrected by the scores ``T`` (or the
    stored ``K_c T``) and loadings ``Q``. The splits (all of the same size) advance
    together: one eigensolver call per split and component, the rest batched over splits,
    with a single pass over ``K`` per component for all of them. Equals scikit-learn's
    ``PLSRegression(scale=False)`` run to convergence.

    Returns the predictions per split and the number of components each could extract
    (fewer than asked when the training responses are fully explained earlier).
    """
    train = np.stack([split[0] for split in splits])  # splits x m
    test = np.stack([split[1] for split in splits])  # splits x h
    n_splits, count = train.shape
    K, Y = products.kernel, products.target
    n_targets = Y.shape[1]
    on_train = (train, np.arange(n_splits)[:, None])  # (n x splits)[on_train]: splits x m
    y_mean = Y[train].mean(axis=1)  # splits x q
    # Per split (one split's temporaries at a time): K_train 1 and K_train Y_train from the
    # full products minus the held-out columns, then K_c Y_c and M = Y_c' K_c Y_c.
    kernel_targets, kernel_sums = K @ Y, K.sum(axis=1)
    train_sums = np.empty((n_splits, count))
    centered_kernel_targets = np.empty((n_splits, count, n_targets))
    moment = np.empty((n_splits, n_targets, n_targets))
    for split, (rows, held_out) in enumerate(zip(train, test, strict=True)):
        cross = K[np.ix_(rows, held_out)]
        train_sums[split] = kernel_sums[rows] - cross.sum(axis=1)
        products = kernel_targets[rows] - cross @ Y[held_out]
        products -= np.outer(train_sums[split], y_mean[split])
        products -= products.mean(axis=0)
        centered_kernel_targets[split] = products
        moment[split] = (Y[rows] - y_mean[split]).T @ products

    def centered_targets_times(vectors: np.ndarray) -> np.ndarray:
        """``Y_c' v`` per split for splits x m vectors ``v``."""
        embedded = np.zeros((len(Y), n_splits))
        embedded[on_train] = vectors
        return (Y.T @ embedded).T - y_mean * vectors.sum(axis=1)[:, None]

    scores = np.zeros((n_splits, count, n_components))  # T = X_c R
    kernel_scores = np.zeros((n_splits, count, n_components))  # K_c T
    dual_rotations = np.zeros((n_splits, count, n_components))  # R = X_c' A
    loadings = np.zeros((n_splits, n_targets, n_components))  # Q
    norms = np.ones((n_splits, n_components))  # t't (1 for components a split lacks)
    active = np.ones(n_splits, dtype=bool)
    first_values = np.zeros(n_splits)
    extracted = np.zeros(n_splits, dtype=int)
    for component in range(n_components):
        directions = np.zeros((n_splits, n_targets))  # c / sqrt(eigenvalue); 0 when done
        for split in np.flatnonzero(active):
            value, vector = _dominant_eigenpair(moment[split])
            if component == 0:
                first_values[split] = value
            if value > first_values[split] * 1e-13:
                directions[split] = vector / np.sqrt(value)
            else:
                active[split] = False  # the responses are explained: no direction left
        if not active.any():
            break
        done = slice(0, component)
        T, KT, Q = scores[:, :, done], kernel_scores[:, :, done], loadings[:, :, done]
        R = dual_rotations[:, :, done]
        loaded = _matvec(np.swapaxes(Q, 1, 2), directions)  # Q'c
        shift = np.einsum("sq,sq->s", y_mean, directions)[:, None]  # ybar'c
        # u = Y_a c (the dual weights: w = X_c' u) and K_c u, with Y_a = Y_c - T Q'.
        weights = (Y @ directions.T)[on_train] - shift - _matvec(T, loaded)
        kernel_weights = (_matvec(centered_kernel_targets, directions)
                          - _matvec(KT, loaded))
        # t = K_c u made orthogonal to the previous scores; r such that t = X_c X_c' r.
        coefficients = _matvec(np.swapaxes(T, 1, 2), kernel_weights) / norms[:, done]
        new_scores = kernel_weights - _matvec(T, coefficients)
        dual_rotations[:, :, component] = weights - _matvec(R, coefficients)
        norm = np.where(active, np.einsum("sm,sm->s", new_scores, new_scores), 1.0)
        # K_c t = H K_train t: the one pass over K, for all splits at once.
        embedded = np.zeros((len(Y), n_splits))
        embedded[on_train] = new_scores
        new_kernel_scores = (K @ embedded)[on_train]
        new_kernel_scores -= new_kernel_scores.mean(axis=1, keepdims=True)
        # Loadings q = Y_a't / t't; M = Y_a' K_c Y_a deflated by a rank-two update.
        new_loadings = (centered_targets_times(new_scores)
                        - _matvec(Q, _matvec(np.swapaxes(T, 1, 2), new_scores)))
        new_loadings /= norm[:, None]
        kernel_cross = (centered_targets_times(new_kernel_scores)
                        - _matvec(Q, _matvec(np.swapaxes(T, 1, 2), new_kernel_scores)))
        curvature = np.einsum("sm,sm->s", new_scores, new_kernel_scores)  # t'K_c t
        half = kernel_cross - 0.5 * curvature[:, None] * new_loadings
        for split in np.flatnonzero(active):  # M -= q h' + h q', on the triangle LAPACK reads
            scipy.linalg.blas.dsyr2(-1.0, new_loadings[split], half[split],
                                    a=moment[split].T, lower=1, overwrite_a=1)
        scores[:, :, component] = new_scores
        kernel_scores[:, :, component] = new_kernel_scores
        loadings[:, :, component] = new_loadings
        norms[:, component] = norm
        extracted[active] = component + 1
    predictions = []
    for split, (rows, held_out) in enumerate(zip(train, test, strict=True)):
        dual = dual_rotations[split] @ loadings[split].T  # m x q
        prediction = K[np.ix_(held_out, rows)] @ dual
        prediction -= (train_sums[split] / count) @ dual  # test rows centered on train
        predictions.append(prediction + y_mean[split])
    return predictions, extracted.tolist()


def _matvec(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrices[s] @ vectors[s]`` for every split ``s`` (splits x r x c, splits x c)."""
    return (matrices @ vectors[:, :, None])[:, :, 0]


def _dominant_eigenpair(matrix: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest eigenvalue and its eigenvector of a symmetric matrix (LAPACK ``dsyevx``).

    Reads the lower triangle of ``matrix.T`` (the Fortran-order view), the triangle the
    rank-two updates of :func:`pls_predictions` write; the other one is never used.
    ``dsyevx`` (tridiagonal reduction, bisection, inverse iteration) is the fastest
    LAPACK driver for one eigenpair here, with residuals at rounding level (~1e-15).
    """
    size = len(matrix)
    values, vectors, _, _, info = scipy.linalg.lapack.dsyevx(
        matrix.T, compute_v=1, range="I", lower=1, il=size, iu=size
    )
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK dsyevx failed (info={info}) on a PLS moment.")
    return float(values[0]), vectors[:, 0]
