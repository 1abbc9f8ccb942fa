"""Generated operational documents (runbooks/): see tools/docs/__main__.py and tools/docs/model.py."""
