"""What both Pulumi projects share and only they may load: the read-config -> validate -> build pipeline, the
component shape every tier takes, and the release as a Pulumi archive. The core package (`refarch`) imports
no IaC SDK, so these live apart from it; arrows point inward (this package uses `refarch`, never the reverse).
"""
