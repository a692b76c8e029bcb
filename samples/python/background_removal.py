#!/usr/bin/env python3
"""Background removal with robust PCA, the classic lesson's steps, with cleanplate, on a real video at
full resolution (CDnet highway, 320x240, 1,700 frames) instead of 60x80 thumbnails.

  1. The video as a matrix: each frame flattened into a column (pixels x frames).
  2. A rank-1 randomized SVD: the background; what it leaves is the foreground.
  3. Robust PCA (principal component pursuit): M = L + S, L low rank (the background), S sparse
     (what moves), which a rank-1 fit smears into the background.
  4. The picture: for a few frames, original | rank-1 background | its foreground | robust PCA's
     background | its sparse part, written to OUT/frames.png.

  samples/python/background_removal.py [INPUT_FOLDER_OR_VIDEO] [OUT]   (default: ../shared/data highway)
"""
import glob
import os
import sys
import time

import cv2
import numpy as np

import cleanplate

here = os.path.dirname(os.path.abspath(__file__))
source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data", "cdnet-baseline",
                                                             "highway", "input")
out = sys.argv[2] if len(sys.argv) > 2 else "background_removal"
if not os.path.exists(source):
    print(f"background_removal: '{source}' does not exist (the shared data folder is missing); skipped")
    sys.exit(77)
os.makedirs(out, exist_ok=True)

# 1. The matrix: grey frames as columns, float32 in [0, 1]; Fortran order, so each column is a frame.
if os.path.isdir(source):
    images = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in sorted(glob.glob(os.path.join(source, "*.*")))]
else:
    capture, images = cv2.VideoCapture(source), []
    while (frame := capture.read()[1]) is not None:
        images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
images = [image for image in images if image is not None]
if not images:
    sys.exit(f"background_removal: no frames in '{source}'")
height, width = images[0].shape
M = np.empty((height * width, len(images)), dtype=np.float32, order="F")
for j, image in enumerate(images):
    M[:, j] = image.reshape(-1) / 255.0
print(f"matrix: {M.shape[0]} pixels x {M.shape[1]} frames ({height}x{width}), {M.nbytes / 1e6:.0f} MB")

# 2. Rank 1: the background is U s Vt; each frame's column of it is U s Vt[:, j].
start = time.perf_counter()
U, s, Vt = cleanplate.randomized_svd(M, n_components=1)
print(f"rank-1 randomized SVD: {time.perf_counter() - start:.2f} s; the background holds "
      f"{(s ** 2).sum() / np.square(M, dtype=np.float64).sum():.1%} of the energy")

# 3. Robust PCA: the low-rank part is bounded to rank 2 (a static camera), the rest is sparse.
start = time.perf_counter()
r = cleanplate.robust_pca(M, max_rank=2)
print(f"robust PCA: {time.perf_counter() - start:.2f} s, {r.n_iter} iterations, rank {len(r.s)}, "
      f"{np.mean(np.abs(r.sparse) > 0.1):.1%} of the entries move by more than 0.1")

# 4. The picture, a row per frame.
def image(column):
    return np.clip(column.reshape(height, width) * 255, 0, 255).astype(np.uint8)

rows = []
for j in np.linspace(0, M.shape[1] - 1, 4).astype(int)[1:]:
    background = (U * s) @ Vt[:, j]
    robust_background = (r.U * r.s) @ r.Vt[:, j]
    rows.append(np.hstack([image(M[:, j]), image(background), image(np.abs(M[:, j] - background) * 4),
                           image(robust_background), image(np.abs(r.sparse[:, j]) * 4)]))
cv2.imwrite(os.path.join(out, "frames.png"), np.vstack(rows))
print(f"wrote {os.path.join(out, 'frames.png')}: original | rank-1 background | its foreground | "
      "robust PCA background | sparse part (differences x4)")
