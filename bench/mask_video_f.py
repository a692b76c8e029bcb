#!/usr/bin/python3
"""F-measure of the masks in a mask video (lossless: --lossless-masks) against a ground-truth folder
of the synthetic scene (gtNNNNNN.png, 255 = foreground), over frames FIRST .. FIRST+COUNT-1; frame j's
truth is frame (j mod the number of truth frames), for videos that repeat the scene.
    mask_video_f.py MASK_VIDEO TRUTH_FOLDER FIRST COUNT"""
import glob
import sys

import cv2

video, truth_folder, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
truths = sorted(glob.glob(truth_folder + "/gt*.png"))
capture = cv2.VideoCapture(video)
for j in range(first):  # decoded in order: seeking in H.264 is not exact
    if not capture.grab():
        sys.exit(f"{video} ends before frame {j}")
true_positive = false_positive = false_negative = 0
for j in range(first, first + count):
    ok, frame = capture.read()
    if not ok:
        sys.exit(f"{video} ends before frame {j}")
    mask = frame[:, :, 0] > 127
    truth = cv2.imread(truths[j % len(truths)], cv2.IMREAD_GRAYSCALE) > 127
    true_positive += int((mask & truth).sum())
    false_positive += int((mask & ~truth).sum())
    false_negative += int((~mask & truth).sum())
print(f"{2 * true_positive / max(1, 2 * true_positive + false_positive + false_negative):.4f}")
