"""cleanplate: a video as a low-rank background plus a sparse foreground.

The decomposition library on numpy arrays (float32 or float64; other dtypes become float64), with
scikit-learn's names and return shapes:

    U, s, Vt = cleanplate.randomized_svd(M, n_components=2)   # M ~ (U * s) @ Vt, as sklearn.utils.extmath's
    U, s, Vt = cleanplate.truncated_svd(M, n_components=2)    # exact (Eigen's BDCSVD)
    r = cleanplate.robust_pca(M)                              # principal component pursuit: r.low_rank + r.sparse
    r = cleanplate.godec(M, n_components=1, sparse_fraction=0.05)
    w, V = cleanplate.symmetric_eigen(C, n_components=3)      # largest first
    pca = cleanplate.PCA(n_components=10).fit(X)              # components_, explained_variance_ratio_, ...
    svd = cleanplate.IncrementalSVD(n_features=rows, n_components=2); svd.partial_fit(column)

Fortran-order matrices are read in place; C-order ones are read in place as their transpose (the
decompositions of A and A^T are the same factors, swapped), so neither is copied. Other layouts
(slices with steps) are copied once. The GIL is released while computing. Bad input raises
cleanplate.Error, a ValueError, with the same one-line message as the command line. random_state
is an int, None (a seed drawn from numpy's global generator, as scikit-learn does) or a
numpy.random.RandomState / Generator.

The pipeline and its outputs:

    result = cleanplate.separate("video.mp4", output="out", method="robust", max_memory="2G")
    model = cleanplate.load_model("out/model.npz"); model.frame(0); model.background(0)

And the drop-in background subtractor, with OpenCV's names (the same masks as `cleanplate live`):

    subtractor = cleanplate.BackgroundSubtractor(memory=250)
    mask = subtractor.apply(frame)           # uint8 (h, w) grey or (h, w, 3) BGR, as cv2 gives them
    background = subtractor.getBackgroundImage()
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os

import numpy as np

from . import _core
from ._core import Error

__all__ = ["Error", "randomized_svd", "truncated_svd", "robust_pca", "godec", "symmetric_eigen", "PCA",
           "IncrementalSVD", "Split", "separate", "load_model", "BackgroundSubtractor"]


def _seed(random_state) -> int:
    """A 64-bit seed for the C++ generator from scikit-learn's forms of random_state."""
    if random_state is None:
        random_state = np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int64).max))
    if isinstance(random_state, (int, np.integer)) and random_state >= 0:
        return int(random_state)
    raise Error(f"random_state must be a non-negative int, None, RandomState or Generator, got {random_state!r}")


def randomized_svd(M, n_components: int, *, n_oversamples: int = 10, n_iter: int = 2,
                   random_state=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncated SVD by a randomized range finder (Halko, Martinsson, Tropp 2011).

    Returns U (m, n_components), s (n_components,) largest first, and Vt (n_components, n), with
    M ~ (U * s) @ Vt, as sklearn.utils.extmath.randomized_svd. n_oversamples: extra columns of the
    sketch; n_iter: power iterations, each re-orthonormalized (2 reaches the optimal error on the
    spectra of video; scikit-learn's "auto" takes 4 to 7). random_state: see the module's help.
    """
    return _core.randomized_svd(M, n_components, n_oversamples, n_iter, _seed(random_state))


def truncated_svd(M, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact truncated SVD (Eigen's BDCSVD): U, s, Vt as randomized_svd returns them."""
    return _core.truncated_svd(M, n_components)


def symmetric_eigen(a, n_components: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues w (largest first) and eigenvectors V (columns) of a symmetric matrix; the
    n_components largest when given, else all."""
    return _core.symmetric_eigen(a, -1 if n_components is None else n_components)


@dataclasses.dataclass
class Split:
    """A low-rank + sparse split of a matrix M: M ~ low_rank + sparse."""

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    sparse: np.ndarray
    n_iter: int
    converged: bool

    @property
    def low_rank(self) -> np.ndarray:
        """U @ diag(s) @ Vt, formed on demand (the factors are what is stored)."""
        return (self.U * self.s) @ self.Vt


def robust_pca(M, *, lam: float | None = None, tol: float | None = None, max_iter: int = 500,
               penalty_growth: float = 1.5, max_rank: int | None = None, random_state=0) -> Split:
    """Principal component pursuit by inexact ALM (Lin, Chen, Ma 2010) with randomized partial SVDs.

    lam: weight of the sparse part's l1 norm (None: 1/sqrt(max(m, n)), Candes et al.'s choice).
    tol: stop at ||M - L - S||_F <= tol ||M||_F (None: 1e-7 for float64, 1.2e-5 for float32).
    penalty_growth: the ALM penalty mu grows by this factor each iteration.
    max_rank: bound on the rank of L (None: none).
    """
    (U, s, Vt), sparse, n_iter, converged = _core.robust_pca(M, lam or 0.0, tol or 0.0, max_iter, penalty_growth,
                                                             max_rank or 0, _seed(random_state))
    return Split(U, s, Vt, sparse, n_iter, converged)


def godec(M, n_components: int = 1, *, sparse_fraction: float = 0.05, tol: float = 1e-7, max_iter: int = 100,
          n_iter: int = 1, random_state=0) -> Split:
    """GoDec (Zhou and Tao 2011): rank n_components plus the largest sparse_fraction of the entries,
    by alternating projections (the sparse part is returned as a dense array). n_iter: the power
    iterations of each randomized SVD."""
    (U, s, Vt), sparse, iterations, converged = _core.godec(M, n_components, sparse_fraction, tol, max_iter, n_iter,
                                                            _seed(random_state))
    return Split(U, s, Vt, sparse, iterations, converged)


class _Estimator:
    """scikit-learn's parameter protocol: the constructor's arguments, read and set by name."""

    def get_params(self, deep: bool = True) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise Error(f"{type(self).__name__}: no parameter '{name}' (it has {', '.join(valid)})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


class PCA(_Estimator):
    """Principal component analysis with scikit-learn's names (samples in rows).

    n_components: components kept (None: all); whiten: scale the scores to unit variance;
    svd_solver: 'auto', 'full' (exact SVD), 'randomized' or 'covariance_eigh'; random_state: for
    'randomized' (see the module's help). After fit: components_, mean_, singular_values_,
    explained_variance_, explained_variance_ratio_, n_components_.
    """

    def __init__(self, n_components: int | None = None, *, whiten: bool = False, svd_solver: str = "auto",
                 random_state=0):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state
        self._model = None

    def fit(self, X, y=None) -> "PCA":
        X = np.asarray(X)
        fit = _core.Pca32.fit if X.dtype == np.float32 else _core.Pca64.fit
        self._model = fit(X if X.dtype == np.float32 else X.astype(np.float64, copy=False), self.n_components or 0,
                          self.svd_solver, self.whiten, _seed(self.random_state))
        self.components_ = self._model.components
        self.mean_ = self._model.mean
        self.singular_values_ = self._model.singular_values
        self.explained_variance_ = self._model.explained_variance
        self.explained_variance_ratio_ = self._model.explained_variance_ratio
        self.n_components_ = self.components_.shape[0]
        return self

    def _check(self, X):
        if self._model is None:
            raise Error("PCA: call fit() first")
        return np.asarray(X, dtype=self.components_.dtype)

    def transform(self, X) -> np.ndarray:
        """The scores of X's rows on the components."""
        return self._model.transform(self._check(X))

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Rows rebuilt from their scores."""
        return self._model.inverse_transform(self._check(X))


class IncrementalSVD(_Estimator):
    """Brand's incremental SVD (2006) of columns arriving one at a time, in O(n_features n_components)
    each: partial_fit(column) -> (coefficients, residual norm); components_ (n_components x
    n_features, as scikit-learn's), singular_values_. forgetting_factor < 1 weighs old columns down,
    a memory of about 1 / (1 - forgetting_factor) columns. dtype: float32 or float64.
    """

    def __init__(self, n_features: int, n_components: int = 1, *, forgetting_factor: float = 1.0, dtype=np.float64):
        self.n_features = n_features
        self.n_components = n_components
        self.forgetting_factor = forgetting_factor
        self.dtype = dtype
        kind = _core.IncrementalSvd32 if np.dtype(dtype) == np.float32 else _core.IncrementalSvd64
        self._svd = kind(n_features, n_components, forgetting_factor)

    def partial_fit(self, column) -> tuple[np.ndarray, float]:
        """Adds one column; returns its coefficients on the basis before the update and the norm of
        what the basis did not hold."""
        return self._svd.update(np.asarray(column, dtype=self.dtype))

    @property
    def components_(self) -> np.ndarray:
        return self._svd.U.T

    @property
    def singular_values_(self) -> np.ndarray:
        return self._svd.singular_values


def _argument(name: str, value) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return [flag, str(value)]


def separate(path, output="out", arrays: bool = False, quiet: bool = True, **options) -> dict:
    """`cleanplate separate PATH -o OUTPUT`, with the command line's options as keyword arguments
    (max_memory="2G", method="svd", outputs=["mask", "model"], lossless_masks=True, ...; see
    `cleanplate separate --help`). Returns {"summary": summary.json as a dict, "paths": {name: path}}
    and, with arrays=True (short videos: every mask is kept), "background" (the clean plate, uint8)
    and "masks" (frames x h x w, uint8: 0, 127 for a cast shadow, 255; exact: read from the PNG masks).
    """
    arguments = [os.fspath(path), "--output", os.fspath(output)]
    if arrays:
        options["png"] = True
        outputs = options.get("outputs", ["background", "foreground", "mask", "model"])
        if isinstance(outputs, str):
            outputs = outputs.split(",")
        options["outputs"] = sorted(set(outputs) | {"background"})
    for name, value in options.items():
        arguments += _argument(name, value)
    if quiet:
        arguments.append("--quiet")
    if not _core.separate_command(arguments):
        return {}
    output = os.fspath(output)
    with open(os.path.join(output, "summary.json")) as file:
        summary = json.load(file)
    names = ["background.png", "background.mp4", "foreground.mp4", "mask.mp4", "model.npz", "summary.json"]
    result = {"summary": summary,
              "paths": {name: os.path.join(output, name) for name in names if os.path.exists(os.path.join(output, name))}}
    if arrays:
        masks = os.path.join(output, "masks")
        files = sorted(f for f in os.listdir(masks) if f.endswith(".png"))
        result["masks"] = _core.read_mask_pngs([os.path.join(masks, f) for f in files])
        result["background"] = _core.read_image(os.path.join(output, "background.png"))
    return result


def load_model(path) -> "_core.Model":
    """A model.npz written by `separate`: .frames, .height, .width, .channels, .fps, .psnr, .rank;
    .frame(j) rebuilds frame j and .background(j) its background, as uint8 arrays."""
    return _core.Model(os.fspath(path))


class BackgroundSubtractor:
    """cleanplate's online decomposer with OpenCV's subtractor interface (apply, getBackgroundImage).

    rank: of the background basis; memory: frames over which an old frame's weight falls by 1/e;
    warmup: frames whose per-pixel mode seeds the model (masks from the third frame on; over
    1280x720, empty until its end); color: model the three channels instead of grey; model_block:
    the background modelled on the means of N x N pixel blocks, masks at full size (0: by the
    frame's size, 6 at 1080p; 1: every pixel); shadows: cast shadows are 127 in the masks, as MOG2
    labels them (False: 0 or 255 only).
    apply(image, learningRate=-1): negative keeps `memory`, 0 freezes the model, a rate in (0, 1] is
    a memory of 1 / rate frames for that frame.
    """

    def __init__(self, rank: int = 1, memory: float = 250, warmup: int = 25, color: bool = False,
                 model_block: int = 0, shadows: bool = True):
        self._subtractor = _core.BackgroundSubtractor(rank, memory, warmup, color, model_block, shadows)

    def apply(self, image, fgmask=None, learningRate: float = -1) -> np.ndarray:
        """The foreground mask of `image` (uint8: 0, 127 for a cast shadow, 255), written into fgmask when given."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        mask = self._subtractor.apply(image, learningRate)
        if fgmask is not None:
            fgmask[...] = mask
            return fgmask
        return mask

    def getBackgroundImage(self, backgroundImage=None):
        """The background of the last frame (uint8, as the frames), or None before the first."""
        background = self._subtractor.get_background_image()
        if backgroundImage is not None and background is not None:
            backgroundImage[...] = background
            return backgroundImage
        return background
