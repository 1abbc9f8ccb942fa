"""Cloud-neutral core: the environment spec and what every cloud's renderer shares."""
