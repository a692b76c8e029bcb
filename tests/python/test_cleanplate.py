"""Tests of `import cleanplate`: the library against numpy's LAPACK and scikit-learn, the pipeline,
model.npz and the subtractor against `cleanplate live`. Run by ctest with PYTHONPATH at the built
module; CLEANPLATE_BINARY and CLEANPLATE_SYNTH name the executables."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import numpy as np

import cleanplate

BINARY = os.environ.get("CLEANPLATE_BINARY", "cleanplate")
SYNTH = os.environ.get("CLEANPLATE_SYNTH", "cleanplate-synth")


def low_rank(m, n, rank, noise=0.0, seed=0, dtype=np.float64, order="F"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, rank)) @ np.diag(np.arange(rank, 0, -1) * 10.0) @ rng.standard_normal((rank, n))
    a += noise * rng.standard_normal((m, n))
    return np.asarray(a, dtype=dtype, order=order)


def subspace_gap(a, b):
    """Largest principal-angle sine between the column spaces of a and b (orthonormal columns)."""
    return np.linalg.norm(a - b @ (b.T @ a), 2)


class Linalg(unittest.TestCase):
    def test_randomized_svd_matches_lapack_in_both_layouts(self):
        for order in "FC":
            a = low_rank(300, 200, 3, noise=1e-3, order=order)
            U, s, Vt = cleanplate.randomized_svd(a, n_components=3)
            U0, s0, Vt0 = np.linalg.svd(a, full_matrices=False)
            self.assertEqual((U.shape, s.shape, Vt.shape), ((300, 3), (3,), (3, 200)))
            np.testing.assert_allclose(s, s0[:3], rtol=1e-6)
            self.assertLess(subspace_gap(U0[:, :3], U), 1e-4)
            self.assertLess(subspace_gap(Vt0[:3].T, Vt.T), 1e-4)
            np.testing.assert_allclose((U * s) @ Vt, (U0[:, :3] * s0[:3]) @ Vt0[:3], atol=1e-6 * np.abs(a).max())

    def test_float32_stays_float32_and_ints_become_float64(self):
        a = low_rank(120, 80, 2, dtype=np.float32)
        U, s, Vt = cleanplate.randomized_svd(a, n_components=2)
        self.assertEqual((U.dtype, s.dtype, Vt.dtype), (np.float32,) * 3)
        np.testing.assert_allclose(s, np.linalg.svd(a.astype(np.float64), compute_uv=False)[:2], rtol=1e-4)
        _, s, _ = cleanplate.truncated_svd(np.arange(12).reshape(3, 4), n_components=1)
        self.assertEqual(s.dtype, np.float64)

    def test_strided_views_are_read_correctly(self):
        a = low_rank(200, 160, 2)
        sliced = a[::2, ::3]  # neither C- nor Fortran-contiguous
        _, s, _ = cleanplate.truncated_svd(sliced, n_components=2)
        np.testing.assert_allclose(s, np.linalg.svd(sliced, compute_uv=False)[:2], rtol=1e-10)

    def test_robust_pca_recovers_low_rank_and_sparse_parts(self):
        rng = np.random.default_rng(3)
        low = low_rank(200, 150, 2, seed=3)
        sparse = np.where(rng.random(low.shape) < 0.05, rng.uniform(-50, 50, low.shape), 0.0)
        for order in "FC":
            r = cleanplate.robust_pca(np.asarray(low + sparse, order=order))
            self.assertTrue(r.converged)
            self.assertLess(np.linalg.norm(r.low_rank - low) / np.linalg.norm(low), 1e-4)
            self.assertLess(np.linalg.norm(r.sparse - sparse) / np.linalg.norm(sparse), 1e-3)

    def test_godec_sets_the_largest_entries_aside(self):
        rng = np.random.default_rng(4)
        low = low_rank(200, 150, 2, seed=4)
        sparse = np.zeros(low.size)
        picked = rng.choice(low.size, size=600, replace=False)  # exactly 2% of the entries
        sparse[picked] = rng.uniform(50, 100, 600) * rng.choice([-1, 1], 600)
        sparse = sparse.reshape(low.shape)
        for order in "FC":
            r = cleanplate.godec(np.asarray(low + sparse, order=order), n_components=2, sparse_fraction=0.02)
            self.assertTrue(r.converged)
            self.assertLess(np.linalg.norm(r.low_rank - low) / np.linalg.norm(low), 1e-4)
            np.testing.assert_array_equal(r.sparse != 0, sparse != 0)

    def test_symmetric_eigen_matches_eigh(self):
        b = low_rank(50, 50, 50, seed=5)
        c = b @ b.T
        w, V = cleanplate.symmetric_eigen(c, n_components=4)
        w0, V0 = np.linalg.eigh(c)
        np.testing.assert_allclose(w, w0[::-1][:4], rtol=1e-9)
        np.testing.assert_allclose(np.abs(V.T @ V0[:, ::-1][:, :4]), np.eye(4), atol=1e-6)

    def test_pca_matches_scikit_learn(self):
        from sklearn.decomposition import PCA
        x = low_rank(400, 30, 4, noise=0.1, seed=6, order="C")
        ours = cleanplate.PCA(n_components=4).fit(x)
        theirs = PCA(n_components=4, svd_solver="full").fit(x)
        np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-9)
        np.testing.assert_allclose(ours.explained_variance_ratio_, theirs.explained_variance_ratio_, rtol=1e-9)
        np.testing.assert_allclose(np.abs(ours.components_ @ theirs.components_.T), np.eye(4), atol=1e-8)
        np.testing.assert_allclose(ours.mean_, theirs.mean_, atol=1e-12)
        rebuilt = ours.inverse_transform(ours.transform(x))
        np.testing.assert_allclose(rebuilt, theirs.inverse_transform(theirs.transform(x)), atol=1e-8)

    def test_incremental_svd_follows_the_columns(self):
        a = low_rank(100, 60, 2, seed=7)
        svd = cleanplate.IncrementalSVD(n_features=100, n_components=2)
        for j in range(a.shape[1]):
            svd.partial_fit(a[:, j])
        np.testing.assert_allclose(svd.singular_values_, np.linalg.svd(a, compute_uv=False)[:2], rtol=1e-8)
        self.assertEqual(svd.components_.shape, (2, 100))
        np.testing.assert_allclose(svd.components_ @ svd.components_.T, np.eye(2), atol=1e-12)

    def test_scikit_learn_names_parameters_and_random_states(self):
        import inspect
        import sklearn.utils.extmath
        ours = inspect.signature(cleanplate.randomized_svd).parameters
        theirs = inspect.signature(sklearn.utils.extmath.randomized_svd).parameters
        for name in ["M", "n_components", "n_oversamples", "n_iter", "random_state"]:
            self.assertIn(name, ours)
            self.assertIn(name, theirs)
        a = low_rank(60, 40, 3, seed=9)
        exact = np.linalg.svd(a, compute_uv=False)[:3]
        for state in [0, 7, None, np.random.RandomState(1), np.random.default_rng(2)]:
            _, s, _ = cleanplate.randomized_svd(a, 3, random_state=state)
            np.testing.assert_allclose(s, exact, rtol=1e-10)
        with self.assertRaisesRegex(ValueError, "random_state"):
            cleanplate.randomized_svd(a, 3, random_state=-1)
        pca = cleanplate.PCA(n_components=2)
        self.assertEqual(pca.get_params(), {"n_components": 2, "whiten": False, "svd_solver": "auto",
                                            "random_state": 0})
        self.assertIs(pca.set_params(n_components=3, whiten=True), pca)
        self.assertEqual(pca.fit(a).components_.shape, (3, 40))
        self.assertEqual(repr(pca), "PCA(n_components=3, whiten=True, svd_solver='auto', random_state=0)")
        with self.assertRaisesRegex(ValueError, "no parameter 'rank'"):
            pca.set_params(rank=2)
        for thing in [cleanplate, cleanplate.randomized_svd, cleanplate.robust_pca, cleanplate.godec, cleanplate.PCA,
                      cleanplate.IncrementalSVD, cleanplate.BackgroundSubtractor, cleanplate.separate]:
            self.assertGreater(len(inspect.getdoc(thing) or ""), 40, thing)

    def test_bad_input_raises_value_error_with_one_line(self):
        a = low_rank(20, 10, 1)
        a[3, 4] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN or Inf"):
            cleanplate.randomized_svd(a, 1)
        with self.assertRaisesRegex(ValueError, "rank must be at least 1"):
            cleanplate.randomized_svd(low_rank(20, 10, 1), n_components=0)
        with self.assertRaisesRegex(ValueError, "2-D array"):
            cleanplate.truncated_svd(np.zeros((2, 2, 2)), n_components=1)
        with self.assertRaises(cleanplate.Error):
            cleanplate.symmetric_eigen(np.arange(6.0).reshape(2, 3))

    def test_the_gil_is_released_while_computing(self):
        a = low_rank(2000, 1500, 5, noise=1.0, seed=8)
        ticks = 0
        done = threading.Event()

        def compute():
            cleanplate.robust_pca(a, max_iter=15)
            done.set()

        worker = threading.Thread(target=compute)
        worker.start()
        while not done.is_set():  # this loop needs the GIL: it only runs if the worker let go of it
            ticks += 1
            time.sleep(0.001)
        worker.join()
        self.assertGreater(ticks, 20)


def synthetic_video(folder, frames=60, width=160, height=120, fps=25):
    subprocess.run([SYNTH, folder, "--width", str(width), "--height", str(height), "--frames", str(frames), "--fps",
                    str(fps), "--video", "scene.mp4"], check=True, capture_output=True)
    return os.path.join(folder, "scene.mp4")


class Pipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        cls.video = synthetic_video(cls.folder.name)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def test_separate_returns_the_summary_paths_and_arrays(self):
        out = os.path.join(self.folder.name, "out")
        r = cleanplate.separate(self.video, output=out, arrays=True, outputs=["mask", "model"], rank=1)
        self.assertEqual(r["summary"]["frames"], 60)
        self.assertEqual(r["masks"].shape, (60, 120, 160))
        self.assertEqual(r["background"].shape, (120, 160))
        self.assertTrue(os.path.exists(r["paths"]["model.npz"]))
        truth = cleanplate._core.read_mask_pngs(
            [os.path.join(self.folder.name, "groundtruth", "gt%06d.png" % (j + 1)) for j in range(60)])
        ours, theirs = r["masks"] > 0, truth > 0
        f = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
        self.assertGreater(f, 0.9)

        model = cleanplate.load_model(r["paths"]["model.npz"])
        self.assertEqual((model.frames, model.height, model.width), (60, 120, 160))
        self.assertEqual(model.frame(5).shape, (120, 160))
        self.assertEqual(model.background(5).dtype, np.uint8)
        # Version 2 decodes its foreground video in order: back to frame 5 after frame 59, the same frame.
        fifth = model.frame(5)
        model.frame(59)
        np.testing.assert_array_equal(model.frame(5), fifth)
        with self.assertRaisesRegex(ValueError, "not in the model"):
            model.frame(60)

    def test_separate_reports_bad_options_as_value_errors(self):
        with self.assertRaisesRegex(ValueError, "unknown output 'nothing'"):
            cleanplate.separate(self.video, output=os.path.join(self.folder.name, "bad"), outputs=["nothing"])
        with self.assertRaisesRegex(ValueError, "cannot open|cannot read|no such|does not exist"):
            cleanplate.separate(os.path.join(self.folder.name, "missing.mp4"), output=self.folder.name + "/bad2")

    def test_subtractor_gives_the_masks_of_cleanplate_live(self):
        # The scene's frames as images, so both read the same pixels (live takes a video's luma plane,
        # where OpenCV's VideoCapture converts to BGR).
        # Also with the background modelled on 2 x 2 block means (the default keeps every pixel here).
        import cv2
        frames = os.path.join(self.folder.name, "input")
        for block in (0, 2):
            out = os.path.join(self.folder.name, "live%d" % block)
            subprocess.run([BINARY, "live", frames, "--no-realtime", "--png", "-o", out, "-q", "--model-block",
                            str(block)], check=True)
            subtractor = cleanplate.BackgroundSubtractor(memory=250, model_block=block)  # live's 10 s at 25 fps
            compared = found = 0
            for name in sorted(os.listdir(frames)):
                mask = subtractor.apply(cv2.imread(os.path.join(frames, name)))
                compared += 1
                expected = cv2.imread(os.path.join(out, "masks", "bin%06d.png" % compared), cv2.IMREAD_GRAYSCALE)
                np.testing.assert_array_equal(mask, expected, err_msg="frame %d, blocks of %d" % (compared, block))
                found += int(np.count_nonzero(mask))
            self.assertEqual(compared, 60)
            self.assertGreater(found, 0)
            self.assertEqual(subtractor.getBackgroundImage().shape, (120, 160))
            with open(os.path.join(out, "summary.json")) as summary:
                self.assertEqual(json.load(summary)["model_block"], block if block else 1)

    def test_shadow_labels_change_no_pixel_that_is_foreground(self):
        import cv2
        capture = cv2.VideoCapture(self.video)
        labelled = cleanplate.BackgroundSubtractor(warmup=10)
        binary = cleanplate.BackgroundSubtractor(warmup=10, shadows=False)
        for _ in range(40):
            frame = capture.read()[1]
            mask, plain = labelled.apply(frame), binary.apply(frame)
            self.assertLessEqual(set(np.unique(plain)), {0, 255})
            self.assertLessEqual(set(np.unique(mask)), {0, 127, 255})
            np.testing.assert_array_equal(mask != 0, plain != 0)

    def test_learning_rate_zero_freezes_the_model(self):
        import cv2
        subtractor = cleanplate.BackgroundSubtractor(warmup=10)
        capture = cv2.VideoCapture(self.video)
        frames = [capture.read()[1] for _ in range(40)]
        for frame in frames[:20]:
            subtractor.apply(frame)
        frozen = [subtractor.apply(frame, learningRate=0) for frame in frames[20:]]
        again = cleanplate.BackgroundSubtractor(warmup=10)
        for frame in frames[:20]:
            again.apply(frame)
        # Frozen, the model is the same for every frame: applying them in another order gives the same masks.
        for j in reversed(range(20, 40)):
            np.testing.assert_array_equal(again.apply(frames[j], learningRate=0), frozen[j - 20])


if __name__ == "__main__":
    unittest.main()
