"""What Application Gateway's backend health (`az network application-gateway show-backend-health`,
`servers[].health`) says of one backend address, as `-o tsv` prints it.

The API's values are ApplicationGatewayBackendHealthServerHealth's "known values supported by the service":
Unknown, Up, Down, Partial, Draining (learn.microsoft.com/javascript/api/@azure/arm-network/
applicationgatewaybackendhealthserverhealth; the REST output type `health?: "Up" | "Down" | "Unknown" |
"Partial" | "Draining"`, learn.microsoft.com/javascript/api/@azure-rest/arm-network/
applicationgatewaybackendhealthserveroutput). The portal's Backend health page words them Healthy, Unhealthy
and Unknown (learn.microsoft.com/azure/application-gateway/application-gateway-backend-health), which the
CLI never prints: a runbook comparing with `Healthy` never matches.
"""

from __future__ import annotations

UNKNOWN = "Unknown"
UP = "Up"
DOWN = "Down"
PARTIAL = "Partial"
DRAINING = "Draining"
STATES = (UNKNOWN, UP, DOWN, PARTIAL, DRAINING)

# What each state means to a reader. Unknown: the gateway could not determine the state (its control plane
# did not reach its instances, "Backend health report"); Draining: connection draining, the address is being
# removed from the pool and takes no new requests ("Connection draining", learn.microsoft.com/azure/
# application-gateway/features).
LEGEND = (
    f"`{UP}`: passes the gateway's probe and serves; `{DOWN}`: fails it; `{UNKNOWN}`: the gateway has not "
    f"determined it yet, keep waiting; `{DRAINING}`: being removed from the pool; `{PARTIAL}` or anything "
    f"but `{UP}`: not serving"
)
