"""The lessons, run as `python -m lessons.NN_name` from the repo root.

OMP_WAIT_POLICY=PASSIVE, set before torch is imported: torch's OpenMP threads otherwise spin while they wait
for each other, and on a laptop where the other core is busy a training step was measured up to 6x slower.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
