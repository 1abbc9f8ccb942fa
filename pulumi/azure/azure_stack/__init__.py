"""The Azure rendering of the stateless reference architecture: one component per tier (see program.py)."""
