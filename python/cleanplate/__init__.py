"""cleanplate: a video as a low-rank background plus a sparse foreground.

The decomposition library on numpy arrays (float32 or float64; other dtypes become float64):

    U, s, Vt = cleanplate.randomized_svd(M, rank=2)       # as scikit-learn's, M ~ U @ diag(s) @ Vt
    r = cleanplate.robust_pca(M)                          # principal component pursuit: r.low_rank + r.sparse
    r = cleanplate.godec(M, rank=1, sparse_fraction=0.05)
    w, V = cleanplate.symmetric_eigen(C, k=3)             # largest first
    pca = cleanplate.Pca(n_components=10).fit(X)          # scikit-learn's names: components_, ...
    svd = cleanplate.IncrementalSvd(rows, rank=2); svd.update(column)

Fortran-order matrices are read in place; C-order ones are read in place as their transpose (the
decompositions of A and A^T are the same factors, swapped), so neither is copied. Other layouts
(slices with steps) are copied once. The GIL is released while computing. Bad input raises
cleanplate.Error, a ValueError, with the same one-line message as the command line.

The pipeline and its outputs:

    result = cleanplate.separate("video.mp4", output="out", method="robust", max_memory="2G")
    model = cleanplate.load_model("out/model.npz"); model.frame(0); model.background(0)

And the drop-in background subtractor, as OpenCV's (same masks as `cleanplate live`):

    subtractor = cleanplate.BackgroundSubtractor(rank=1, memory=250)
    mask = subtractor.apply(frame)           # uint8 (h, w) grey or (h, w, 3) BGR, as cv2 gives them
    background = subtractor.getBackgroundImage()
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from . import _core
from ._core import Error, randomized_svd, symmetric_eigen, truncated_svd

__all__ = ["Error", "randomized_svd", "truncated_svd", "robust_pca", "godec", "symmetric_eigen", "Pca",
           "IncrementalSvd", "separate", "load_model", "BackgroundSubtractor"]


@dataclasses.dataclass
class Split:
    """A low-rank + sparse split of a matrix M: M ~ low_rank + sparse."""

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    sparse: np.ndarray
    iterations: int
    converged: bool

    @property
    def low_rank(self) -> np.ndarray:
        """U @ diag(s) @ Vt, formed on demand (the factors are what is stored)."""
        return (self.U * self.s) @ self.Vt


def robust_pca(a, lam: float = 0.0, tolerance: float = 0.0, max_iterations: int = 500, penalty_growth: float = 1.5,
               max_rank: int = 0, seed: int = 0) -> Split:
    """Principal component pursuit by inexact ALM with partial (randomized) SVDs.

    lam: weight of the sparse part's l1 norm (0: 1/sqrt(max(m, n)), Candes et al.'s choice).
    tolerance: stop at ||M - L - S||_F <= tolerance ||M||_F (0: 1e-7 for float64, 1.2e-5 for float32).
    penalty_growth: the ALM penalty mu grows by this factor each iteration.
    max_rank: bound on the rank of L (0: none).
    """
    (U, s, Vt), sparse, iterations, converged = _core.robust_pca(a, lam, tolerance, max_iterations, penalty_growth,
                                                                 max_rank, seed)
    return Split(U, s, Vt, sparse, iterations, converged)


def godec(a, rank: int = 1, sparse_fraction: float = 0.05, tolerance: float = 1e-7, max_iterations: int = 100,
          power_iterations: int = 1, seed: int = 0) -> Split:
    """GoDec (Zhou and Tao 2011): rank `rank` plus the largest `sparse_fraction` of the entries (the
    sparse part is returned as a dense array)."""
    (U, s, Vt), sparse, iterations, converged = _core.godec(a, rank, sparse_fraction, tolerance, max_iterations,
                                                            power_iterations, seed)
    return Split(U, s, Vt, sparse, iterations, converged)


class Pca:
    """Principal component analysis with scikit-learn's names (samples in rows).

    svd_solver: 'auto', 'full' (exact SVD), 'randomized' or 'covariance_eigh'.
    """

    def __init__(self, n_components: int | None = None, whiten: bool = False, svd_solver: str = "auto",
                 random_state: int = 0):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state
        self._model = None

    def fit(self, X, y=None) -> "Pca":
        X = np.asarray(X)
        fit = _core.Pca32.fit if X.dtype == np.float32 else _core.Pca64.fit
        self._model = fit(X if X.dtype == np.float32 else X.astype(np.float64, copy=False), self.n_components or 0,
                          self.svd_solver, self.whiten, self.random_state)
        self.components_ = self._model.components
        self.mean_ = self._model.mean
        self.singular_values_ = self._model.singular_values
        self.explained_variance_ = self._model.explained_variance
        self.explained_variance_ratio_ = self._model.explained_variance_ratio
        self.n_components_ = self.components_.shape[0]
        return self

    def _check(self, X):
        if self._model is None:
            raise Error("Pca: call fit() first")
        return np.asarray(X, dtype=self.components_.dtype)

    def transform(self, X) -> np.ndarray:
        return self._model.transform(self._check(X))

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, scores) -> np.ndarray:
        return self._model.inverse_transform(self._check(scores))


def IncrementalSvd(rows: int, rank: int = 1, forgetting_factor: float = 1.0, dtype=np.float64):
    """Brand's incremental SVD of columns arriving one at a time: update(column) -> (coefficients,
    residual norm); U, singular_values. forgetting_factor < 1 gives a memory of about
    1 / (1 - forgetting_factor) columns."""
    kind = _core.IncrementalSvd32 if np.dtype(dtype) == np.float32 else _core.IncrementalSvd64
    return kind(rows, rank, forgetting_factor)


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
    and "masks" (frames x h x w, uint8 0 or 255, exact: read from the PNG masks).
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
    warmup: frames whose per-pixel mode seeds the model (masks are empty until then); color: model
    the three channels instead of grey; model_block: the background modelled on the means of N x N
    pixel blocks, masks at full size (0: by the frame's size, 6 at 1080p; 1: every pixel).
    apply(image, learningRate=-1): negative keeps `memory`, 0 freezes the model, a rate in (0, 1] is
    a memory of 1 / rate frames for that frame.
    """

    def __init__(self, rank: int = 1, memory: float = 250, warmup: int = 25, color: bool = False,
                 model_block: int = 0):
        self._subtractor = _core.BackgroundSubtractor(rank, memory, warmup, color, model_block)

    def apply(self, image, fgmask=None, learningRate: float = -1) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        mask = self._subtractor.apply(image, learningRate)
        if fgmask is not None:
            fgmask[...] = mask
            return fgmask
        return mask

    def getBackgroundImage(self, backgroundImage=None):
        background = self._subtractor.get_background_image()
        if backgroundImage is not None and background is not None:
            backgroundImage[...] = background
            return backgroundImage
        return background
