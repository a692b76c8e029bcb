#!/usr/bin/python3
"""The peer pipeline a user would write with OpenCV alone: decode, MOG2 apply (defaults), and the
masks written as a video (OpenCV's VideoWriter, H.264 through its FFmpeg backend).
    opencv_mog2_peer.py INPUT OUTPUT.mp4"""
import sys

import cv2

capture = cv2.VideoCapture(sys.argv[1])
fps = capture.get(cv2.CAP_PROP_FPS) or 25
subtractor = cv2.createBackgroundSubtractorMOG2()
writer = None
while True:
    ok, frame = capture.read()
    if not ok:
        break
    mask = subtractor.apply(frame)
    if writer is None:
        writer = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*"avc1"), fps, (mask.shape[1], mask.shape[0]), False)
    writer.write(mask)
writer.release()
