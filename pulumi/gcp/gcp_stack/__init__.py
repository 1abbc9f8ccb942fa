"""The reference architecture on Google Cloud: one ComponentResource per tier, composed by program.py."""
