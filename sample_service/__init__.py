"""Sample stateless HTTP service run by every cloud's instances (REL05-BP06: make systems stateless)."""
