#!/usr/bin/env python3
"""`import cleanplate` against the classic background-removal lesson's tools, in the same run, on its
own problem size: a 4,800 x 11,300 matrix, 60x80 grey frames as columns (highway and the SBI
sequences of ../shared/data shrunk to 80x60, cycled to 11,300 frames).

  1. cleanplate.randomized_svd against scikit-learn's randomized_svd, ranks 1 and 2, each at its
     defaults: medians of RUNS, the speed-up, and each one's relative error ||M - U S Vt|| / ||M||.
  2. cleanplate.robust_pca against a numpy loop of principal component pursuit as the lesson writes
     it (inexact ALM, lambda = 1/sqrt(m), 5 iterations, partial SVDs by scikit-learn's
     randomized_svd), both stopped after 5 iterations; the residual ||M - L - S|| / ||M|| of each;
     cleanplate at its own penalty growth (1.5 a step) and at the lesson's (15).

  PYTHONPATH=build/release/python bench/python_vs_notebook.py [DATA_DIR] [RUNS]
"""
import glob
import os
import sys
import time

import cv2
import numpy as np
from sklearn.utils.extmath import randomized_svd as sklearn_randomized_svd

import cleanplate

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5

# The matrix: every frame of every sequence, 80x60 grey, one column each, cycled to 11,300 columns.
frames = []
for folder in sorted(glob.glob(os.path.join(data, "*", "*", "input")) + glob.glob(os.path.join(data, "*", "*", "in"))):
    for path in sorted(glob.glob(os.path.join(folder, "*.*"))):
        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if image is not None:
            frames.append(cv2.resize(image, (80, 60), interpolation=cv2.INTER_AREA).reshape(-1))
if not frames:
    sys.exit(f"no frames under {data}/*/*/input")
columns = [frames[j % len(frames)] for j in range(11300)]
M = np.asarray(np.stack(columns, axis=1), dtype=np.float64, order="F") / 255  # 4800 x 11300, float64 as numpy's default
print(f"matrix {M.shape[0]} x {M.shape[1]} {M.dtype} from {len(frames)} distinct frames; medians of {runs} runs")


def median_time(function):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def relative_error(U, s, Vt):
    return np.linalg.norm(M - (U * s) @ Vt) / np.linalg.norm(M)


for rank in (1, 2):
    ours_s, (U, s, Vt) = median_time(lambda: cleanplate.randomized_svd(M, n_components=rank))
    theirs_s, (u, t, vt) = median_time(lambda: sklearn_randomized_svd(M, n_components=rank, random_state=0))
    print(f"randomized_svd rank {rank}: cleanplate {ours_s * 1e3:8.1f} ms (error {relative_error(U, s, Vt):.6f}), "
          f"scikit-learn {theirs_s * 1e3:8.1f} ms (error {relative_error(u, t, vt):.6f}); "
          f"speed-up {theirs_s / ours_s:.1f}x (target >= 5)")


def shrink(x, tau):
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0)


def numpy_pcp(X, iterations=5, k=10):
    """Principal component pursuit by inexact ALM as the lesson writes it (its constants)."""
    m, n = X.shape
    transposed = m < n
    if transposed:
        X = X.T
        m, n = X.shape
    lam = 1 / np.sqrt(m)
    op_norm = sklearn_randomized_svd(X, 1, random_state=0)[1][0]
    Y = X / max(op_norm, np.abs(X).max() / lam)
    mu, rho = k * 1.25 / op_norm, k * 1.5
    mu_bar = mu * 1e7
    d_norm = np.linalg.norm(X)
    L = np.zeros_like(X)
    sv = 1
    for _ in range(iterations):
        X2 = X + Y / mu
        S = shrink(X2 - L, lam / mu)
        U, s, Vt = sklearn_randomized_svd(X2 - S, sv, random_state=0)  # partial SVD, thresholded
        s = s - 1 / mu
        kept = int((s > 0).sum())
        L = (U[:, :kept] * s[:kept]) @ Vt[:kept]
        sv = kept + (1 if kept < sv else round(0.05 * n))
        Z = X - L - S
        Y += mu * Z
        mu = min(mu * rho, mu_bar)
        if np.linalg.norm(Z) / d_norm < 1e-7:
            break
    return (L.T, S.T) if transposed else (L, S)


theirs_s, (L, S) = median_time(lambda: numpy_pcp(M))
ours_s, r = median_time(lambda: cleanplate.robust_pca(M, max_iter=5))
rho_s, r15 = median_time(lambda: cleanplate.robust_pca(M, max_iter=5, penalty_growth=15))
norm = np.linalg.norm(M)
print(f"robust PCA, 5 iterations at the lesson's growth of the penalty (15 a step): cleanplate {rho_s:7.2f} s "
      f"(residual {np.linalg.norm(M - r15.low_rank - r15.sparse) / norm:.2e}, rank {len(r15.s)}); "
      f"speed-up {theirs_s / rho_s:.1f}x")
print(f"robust PCA, 5 iterations: cleanplate {ours_s:7.2f} s (residual {np.linalg.norm(M - r.low_rank - r.sparse) / norm:.2e}, "
      f"rank {len(r.s)}, sparse {np.mean(r.sparse != 0):.1%}), numpy loop {theirs_s:7.2f} s "
      f"(residual {np.linalg.norm(M - L - S) / norm:.2e}, sparse {np.mean(S != 0):.1%}); "
      f"speed-up {theirs_s / ours_s:.1f}x (target >= 20)")
