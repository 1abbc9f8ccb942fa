"""AWS renderer of the reference architecture: one construct per tier, composed by `ServiceStack`."""
