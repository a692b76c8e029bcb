#!/usr/bin/python3
"""Rate-distortion of cleanplate's model.npz against libx264 and libx265 (preset medium, keyframes
every 250 frames, as x264's and x265's defaults) on the same 8-bit grey frames, in the same run.

For each clip: `separate --lossless-foreground` gives the exact grey frames `separate` analyses and
its masks (rebuilt to PNG, so every coder starts from identical pixels); then model.npz at four
--quality values and each codec at five CRFs. PSNR is computed here, in numpy, over all frames
(global MSE) and over the pixels of the masks (the foreground: savings may not come from blurring
the people). Prints one table per clip, the Bjontegaard delta rate of model.npz against each codec
(negative: smaller at the same PSNR) and its mean over the clips, the delta of the foreground's PSNR
at the same rate (positive: sharper people), and draws the curves to a PNG.

  bench/model_vs_codecs.py [--build build/release] [--plot model_vs_codecs.png] [--json points.json]
                           [--model-preset medium] CLIP...
  bench/model_vs_codecs.py --from-json points.json [--plot ...]   (the summary and plot of saved points)
  (default clips: highway, the six SBI2015 scenes and the pedestrians video under ../shared/data)
Needs ffmpeg with libx264 and libx265 (Debian's), and python3-opencv and numpy.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

QUALITIES = [17, 23, 29, 35]
CRFS = [18, 22, 26, 30, 34]


def frames_of(folder):
    return np.stack([cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in sorted(glob.glob(folder + "/*.png"))])


def psnr(rebuilt, frames, where=None):
    error = (rebuilt.astype(np.float64) - frames) ** 2
    mse = error.mean() if where is None else error[where].mean()
    return 10 * np.log10(255 ** 2 / mse) if mse > 0 else float("inf")


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


def codec_point(frames, codec, crf, work):
    n, h, w = frames.shape
    stream = os.path.join(work, "stream.mkv")
    params = ["-x265-params", "log-level=error"] if codec == "libx265" else []
    started = time.time()
    run(["ffmpeg", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", "25",
         "-i", "-", "-c:v", codec, "-preset", "medium", "-crf", str(crf), "-g", "250", *params,
         "-color_range", "pc", "-pix_fmt", "gray", "-y", stream], input=frames.tobytes())
    encode = time.time() - started
    started = time.time()
    decoded = run(["ffmpeg", "-nostdin", "-v", "error", "-i", stream, "-vf", "extractplanes=y", "-f", "rawvideo",
                   "-pix_fmt", "gray", "-"]).stdout
    return os.path.getsize(stream), np.frombuffer(decoded, np.uint8).reshape(n, h, w), encode, time.time() - started


def model_point(cleanplate, frames_folder, quality, preset, work):
    out = os.path.join(work, "model")
    started = time.time()
    run([cleanplate, "separate", frames_folder, "-q", "--outputs", "model", "-o", out, "--quality", str(quality),
         "--model-preset", preset])
    encode = time.time() - started
    started = time.time()
    run([cleanplate, "rebuild", "-q", os.path.join(out, "model.npz"), "-o", os.path.join(work, "rebuilt")])
    rebuild = time.time() - started
    rebuilt = frames_of(os.path.join(work, "rebuilt"))
    return os.path.getsize(os.path.join(out, "model.npz")), rebuilt, encode, rebuild


def bd_rate(reference, test):
    """Bjontegaard delta rate (%): log-rate as a cubic in PSNR, integrated over the common PSNR range."""
    (r1, p1), (r2, p2) = [np.array(sorted(zip(*c), key=lambda x: x[1])).T for c in (reference, test)]
    low, high = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    if low >= high:
        return float("nan")
    integral = []
    for r, p in ((r1, p1), (r2, p2)):
        fit = np.polyint(np.polyfit(p, np.log10(r), 3))
        integral.append((np.polyval(fit, high) - np.polyval(fit, low)) / (high - low))
    return (10 ** (integral[1] - integral[0]) - 1) * 100


def bd_psnr(reference, test):
    """Bjontegaard delta PSNR (dB): PSNR as a cubic in log-rate, integrated over the common rate range."""
    (r1, p1), (r2, p2) = [(np.log10(np.array(c[0], float)), np.array(c[1], float)) for c in (reference, test)]
    low, high = max(r1.min(), r2.min()), min(r1.max(), r2.max())
    if low >= high:
        return float("nan")
    integral = [np.diff(np.polyval(np.polyint(np.polyfit(r, p, 3)), [low, high]))[0] / (high - low)
                for r, p in ((r1, p1), (r2, p2))]
    return integral[1] - integral[0]


def plot(curves, path):
    """One panel per clip: PSNR (dB) against bytes (log scale), each coder a colour."""
    colours = {"model.npz": (40, 40, 220), "libx264": (200, 120, 0), "libx265": (0, 160, 0)}
    panel_w, panel_h, columns = 420, 300, 3
    rows = (len(curves) + columns - 1) // columns
    canvas = np.full((rows * panel_h + 30, columns * panel_w, 3), 255, np.uint8)
    for i, (clip, coders) in enumerate(curves.items()):
        x0, y0 = (i % columns) * panel_w, (i // columns) * panel_h
        points = [(r, p) for c in coders.values() for r, p in zip(*c)]
        lr = np.log10([r for r, _ in points])
        ps = [p for _, p in points]
        lo_r, hi_r, lo_p, hi_p = lr.min(), lr.max(), min(ps), max(ps)

        def at(r, p):
            return (int(x0 + 50 + (np.log10(r) - lo_r) / max(hi_r - lo_r, 1e-9) * (panel_w - 70)),
                    int(y0 + panel_h - 40 - (p - lo_p) / max(hi_p - lo_p, 1e-9) * (panel_h - 70)))
        cv2.rectangle(canvas, (x0 + 50, y0 + 30), (x0 + panel_w - 20, y0 + panel_h - 40), (180, 180, 180), 1)
        cv2.putText(canvas, clip, (x0 + 55, y0 + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for text, pos in [(f"{lo_p:.1f} dB", (x0 + 2, y0 + panel_h - 40)), (f"{hi_p:.1f}", (x0 + 10, y0 + 40)),
                          (f"{10 ** lo_r / 1e6:.2g} MB", (x0 + 50, y0 + panel_h - 22)),
                          (f"{10 ** hi_r / 1e6:.2g} MB", (x0 + panel_w - 90, y0 + panel_h - 22))]:
            cv2.putText(canvas, text, pos, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
        for name, (rates, decibels) in coders.items():
            order = np.argsort(rates)
            line = [at(rates[k], decibels[k]) for k in order]
            for a, b in zip(line, line[1:]):
                cv2.line(canvas, a, b, colours[name], 2, cv2.LINE_AA)
            for p in line:
                cv2.circle(canvas, p, 3, colours[name], -1, cv2.LINE_AA)
    x = 10
    for name, colour in colours.items():
        cv2.putText(canvas, name, (x, rows * panel_h + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
        x += 160
    cv2.imwrite(path, canvas)


def summarize(table, plot_path):
    """BD-rate and foreground BD-PSNR of model.npz against each codec, per clip and on average; the plot."""
    curves, foreground_curves = {}, {}
    for point in table:
        for target, key in ((curves, "psnr"), (foreground_curves, "foreground_psnr")):
            rates, values = target.setdefault(point["clip"], {}).setdefault(point["coder"], ([], []))
            rates.append(point["bytes"]), values.append(point[key])
    print("\nmodel.npz against each codec: BD-rate (negative: smaller at the same PSNR) and the foreground's")
    print("PSNR at the same rate (positive: better)")
    print(f"{'clip':<16} {'vs libx264':>11} {'fg dB':>7} {'vs libx265':>11} {'fg dB':>7}")
    rows = []
    for clip, coders in curves.items():
        row = []
        for codec in ("libx264", "libx265"):
            row += [bd_rate(coders[codec], coders["model.npz"]),
                    bd_psnr(foreground_curves[clip][codec], foreground_curves[clip]["model.npz"])]
        rows.append(row)
        print(f"{clip:<16} {row[0]:>+10.1f}% {row[1]:>+7.2f} {row[2]:>+10.1f}% {row[3]:>+7.2f}")
    mean = np.nanmean(np.array(rows), axis=0)
    print(f"{'mean':<16} {mean[0]:>+10.1f}% {mean[1]:>+7.2f} {mean[2]:>+10.1f}% {mean[3]:>+7.2f}")
    plot(curves, plot_path)
    print(f"curves: {plot_path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--plot", default="model_vs_codecs.png")
    parser.add_argument("--json", help="also write every point here")
    parser.add_argument("--from-json", help="only summarize and plot the points of an earlier --json")
    parser.add_argument("--model-preset", default="medium", help="separate's --model-preset")
    parser.add_argument("clips", nargs="*")
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            summarize(json.load(f), args.plot)
        return
    data = "../shared/data"
    clips = args.clips or ([f"{data}/cdnet-baseline/highway/input"] + sorted(glob.glob(f"{data}/sbi2015/*/input")) +
                           [f"{data}/video/pedestrians-480x360.avi"])
    cleanplate = os.path.join(args.build, "pipeline", "cleanplate")
    table = []
    for clip in clips:
        name = clip.rstrip("/").removesuffix("/input").split("/")[-1].split(".")[0]
        with tempfile.TemporaryDirectory() as work:
            exact = os.path.join(work, "exact")
            run([cleanplate, "separate", clip, "-q", "--outputs", "model,mask", "--png", "--lossless-foreground",
                 "-o", exact])
            folder = os.path.join(work, "frames")
            run([cleanplate, "rebuild", "-q", os.path.join(exact, "model.npz"), "-o", folder])
            frames = frames_of(folder)
            foreground = frames_of(os.path.join(exact, "masks")) == 255  # 127: shadow, background
            print(f"\n{name}: {frames.shape[0]} grey frames of {frames.shape[2]}x{frames.shape[1]}, "
                  f"{100 * foreground.mean():.1f}% foreground", flush=True)
            print(f"{'coder':<12} {'setting':>8} {'bytes':>10} {'PSNR dB':>8} {'fg dB':>7} {'encode s':>9} {'decode s':>9}")
            for coder, settings in [("model.npz", QUALITIES), ("libx264", CRFS), ("libx265", CRFS)]:
                for setting in settings:
                    if coder == "model.npz":
                        size, rebuilt, encode, decode = model_point(cleanplate, folder, setting, args.model_preset, work)
                    else:
                        size, rebuilt, encode, decode = codec_point(frames, coder, setting, work)
                    whole, fg = psnr(rebuilt, frames), psnr(rebuilt, frames, foreground)
                    table.append({"clip": name, "coder": coder, "setting": setting, "bytes": size, "psnr": whole,
                                  "foreground_psnr": fg, "encode_seconds": encode, "decode_seconds": decode})
                    print(f"{coder:<12} {setting:>8} {size:>10} {whole:>8.2f} {fg:>7.2f} {encode:>9.1f} {decode:>9.1f}",
                          flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)
    summarize(table, args.plot)


if __name__ == "__main__":
    sys.exit(main())
