"""The cost model of `mpirun -np P cleanplate separate` (README, "Running on a cluster"), fitted to
a one-process run and checked against a two-process run on the same machine.

  T(P) = T_fit + T_frame * N / P + T_gather(P) + T_join

- T_fit: every rank fits the model on the sample (decompose, noise model, the sample's refit);
  replicated, so it does not shrink with P. From the two-process run (each rank on half the
  machine), halved for a whole node.
- T_frame: one node's wall time per frame for decoding, splitting, encoding and coding, from the
  one-process run's phases.
- T_gather(P): the sample's 8-bit frames to every rank (MPI_Allgatherv, ring):
  S * V * (P - 1) / P bytes at B bytes/s, plus latency * ceil(log2 P).
- T_join: rank 0 copying the parts into the outputs (no re-encoding): output bytes at the disk's
  rate, measured in the two-process run; it grows with N, not with P.
On one machine with 2 cores, the ranks share the cores: the check is the throughput bound,
  T_local(2) = (CPU_1 + CPU_fit) / cores,
the one-process run's CPU time plus the second rank's replicated fit, spread over the cores.

usage: mpi_cost_model.py ONE.json WALL1 CPU1 TWO.json WALL2 CPU2 CORES OUTPUT_BYTES
"""
import json
import math
import sys

BANDWIDTH = 1.25e9  # bytes/s: 10 Gigabit Ethernet (assumed for the cluster rows)
LATENCY = 50e-6     # s per message step (assumed)

one_path, wall1, cpu1, two_path, wall2, cpu2, cores, output_bytes = sys.argv[1:9]
one, two = json.load(open(one_path)), json.load(open(two_path))
wall1, cpu1, wall2, cpu2, cores, output_bytes = map(float, (wall1, cpu1, wall2, cpu2, cores, output_bytes))

frames = one["frames"]
sample = two["sample_frames"] or frames
values = one["width"] * one["height"] * one["channels"]
s1, s2 = one["seconds"], two["seconds"]
fit_half = s2["decompose"] + s2["threshold"] + s2["refit"]  # rank 0, on half the machine
t_fit = fit_half / 2
t_frame = (wall1 - s1["decompose"] - s1["threshold"]) / frames
t_join = s2["join"]

print("ranks of the two-process run:")
for rank in two["ranks"]:
    print("  rank {rank}: frames {first_frame}..{last}, read {read:.2f} s, decompose {decompose:.2f} s, "
          "split {split_wall:.2f} s, total {total:.2f} s".format(last=rank["first_frame"] + rank["frames"] - 1, **rank))
print(f"model: N = {frames} frames, sample S = {sample}, V = {values} values a frame; "
      f"T_fit = {t_fit:.2f} s, T_frame = {1000 * t_frame:.1f} ms, T_join = {t_join:.2f} s "
      f"({output_bytes / 1e6:.0f} MB of outputs)")

local = (cpu1 + fit_half) / cores
print(f"check, 2 ranks on this machine's {cores:.0f} cores: predicted {local:.1f} s, measured {wall2:.1f} s "
      f"({100 * (wall2 - local) / local:+.0f}%); CPU: 1 process {cpu1:.1f} s, 2 ranks {cpu2:.1f} s")


def predicted(p, n):
    gather = sample * values * (p - 1) / p / BANDWIDTH + LATENCY * math.ceil(math.log2(p))
    return t_fit + t_frame * n / p + gather + t_join * n / frames, gather


print("cluster of nodes like this one, one rank each (10 GbE assumed):")
for n in (frames, 60 * frames):
    base, _ = predicted(1, n)
    for p in (16, 64):
        t, gather = predicted(p, n)
        print(f"  {n} frames on {p:2d} nodes: {t:8.1f} s (gather {gather:.2f} s, fit {t_fit:.1f} s, "
              f"join {t_join * n / frames:.1f} s); speedup {base / t:.1f}x of {p}")
