"""What both Pulumi projects share and only they may load: the read-config -> validate -> build pipeline, the
component shape every tier takes, the release as a Pulumi archive, and the offline runner (mocks and the
recorded inventory). The core package (`refarch`) imports no IaC SDK, so these live apart from it; arrows
point inward (this package uses `refarch`, never the reverse).
"""
