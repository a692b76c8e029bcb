#!/usr/bin/env python3
"""Peer for bench_randomized_svd: times scikit-learn's randomized_svd on the same matrix.

Reads a raw column-major float32 matrix, runs randomized_svd with the given rank, oversampling and
power iterations (scikit-learn's default normalizer for that count), and prints one JSON line:
per power-iteration normalizer ("auto", its default, and "QR", the re-orthonormalizing one), the
median seconds and the relative Frobenius error of its result; and the BLAS numpy uses.
"""
import json, sys, time
import numpy as np
from sklearn.utils.extmath import randomized_svd

path, rows, cols, rank, oversampling, iterations, repeats = sys.argv[1:8]
rows, cols, rank, oversampling, iterations, repeats = map(int, (rows, cols, rank, oversampling, iterations, repeats))
a = np.fromfile(path, dtype=np.float32).reshape((rows, cols), order="F")

results = {}
for normalizer in ("auto", "QR"):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        u, s, vt = randomized_svd(a, n_components=rank, n_oversamples=oversampling, n_iter=iterations,
                                  power_iteration_normalizer=normalizer, random_state=0)
        times.append(time.perf_counter() - start)
    # Norms in float64: a float32 sum over 77 M squares is off by ~0.3%, more than the differences measured.
    error = np.linalg.norm((a - (u * s) @ vt).astype(np.float64)) / np.linalg.norm(a.astype(np.float64))
    results[normalizer] = {"median_seconds": float(np.median(times)), "relative_error": float(error)}
try:
    from threadpoolctl import threadpool_info
    blas = ", ".join(f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info() if i["user_api"] == "blas")
except ImportError:
    blas = "unknown"
print(json.dumps({"auto": results["auto"], "QR": results["QR"], "blas": blas}))
