"""Every tier is present, owned by its component and wired to the next; guarantees hold per environment."""

from __future__ import annotations

import ipaddress
import re

from gcp_queries import openapi, ref, service_environment, service_routes

from refarch.inventory import MASK, masked_secrets
from sample_service.firestore_layout import COLLECTION, TTL_FIELD
from sample_service.paths import HEALTH_PATH

TIERS = {
    "refarch:gcp:ServiceIdentities",
    "refarch:gcp:ServiceNetwork",
    "refarch:gcp:StatelessFleet",
    "refarch:gcp:ServiceLoadBalancer",
    "refarch:gcp:PublicApi",
    "refarch:gcp:SessionCache",
    "refarch:gcp:ItemStore",
    "refarch:gcp:ObjectStorage",
    "refarch:gcp:ServiceMonitoring",
}
GFE_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]


def _account(inventory, name):
    return inventory.named(name)


def _email(inventory, name, project):
    return f"{_account(inventory, name).get('accountId')}@{project}.iam.gserviceaccount.com"


def test_one_component_per_tier_owning_every_resource(inventory):
    components = inventory.components()
    assert {c.type for c in components} == {*TIERS, "refarch:gcp:StatelessService"}
    assert inventory.orphans() == []
    for component in components:
        assert inventory.children_of(component.name), f"{component.type} registered nothing"


def test_network_is_custom_with_nat_egress_and_a_subnet_inside_the_spec_range(inventory, spec):
    vpc = inventory.only("gcp:compute/network:Network")
    assert vpc.get("autoCreateSubnetworks") is False
    subnet = inventory.only("gcp:compute/subnetwork:Subnetwork")
    assert subnet.get("network") == ref(vpc)
    assert subnet.get("privateIpGoogleAccess") is True
    assert ipaddress.IPv4Network(subnet.get("ipCidrRange")).subnet_of(ipaddress.IPv4Network(spec.vpc_cidr))
    nat = inventory.only("gcp:compute/routerNat:RouterNat")
    assert nat.get("subnetworks.0.name") == ref(subnet)
    assert nat.get("logConfig.enable") is True


def test_firewall_admits_only_google_front_ends_to_instances_and_only_instances_to_the_cache(
    inventory, spec, stack_config, gcp
):
    project = stack_config["gcp:project"]
    fleet = _email(inventory, "fleet-account", project)
    rules = {rule.name: rule for rule in inventory.of_type("gcp:compute/firewall:Firewall")}
    ingress = [rule for rule in rules.values() if rule.get("direction") == "INGRESS"]
    assert [rule.name for rule in ingress] == ["lb-to-fleet"]
    lb = rules["lb-to-fleet"]
    assert lb.get("sourceRanges") == GFE_RANGES
    assert lb.get("targetServiceAccounts") == [fleet]
    assert lb.get("allows") == [{"protocol": "tcp", "ports": [str(spec.service.port)]}]
    cache = inventory.only("gcp:redis/instance:Instance")
    to_cache = rules["fleet-to-cache"]
    assert to_cache.get("destinationRanges") == [cache.get("reservedIpRange")]
    assert to_cache.get("targetServiceAccounts") == [fleet]
    assert to_cache.get("allows") == [
        {"protocol": "tcp", "ports": [str(gcp.module("session_cache").CACHE_TLS_PORT)]}
    ]
    deny = rules["deny-egress"]
    assert deny.get("denies") == [{"protocol": "all"}] and deny.get("targetServiceAccounts", None) is None
    assert all(rule.get("priority") < deny.get("priority") for rule in rules.values() if rule is not deny)


def test_instances_have_no_external_ip_no_ssh_keys_and_are_shielded(inventory, stack_config, spec):
    template = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate")
    assert [set(interface) for interface in template.get("networkInterfaces")] == [{"subnetwork"}]
    assert template.get("networkInterfaces.0.subnetwork") == ref(
        inventory.only("gcp:compute/subnetwork:Subnetwork")
    )
    assert template.get("metadata.enable-oslogin") == "TRUE"
    assert template.get("metadata.block-project-ssh-keys") == "TRUE"
    assert "ssh-keys" not in template.get("metadata")
    assert template.get("shieldedInstanceConfig") == {
        "enableSecureBoot": True,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }
    assert template.get("serviceAccount.email") == _email(
        inventory, "fleet-account", stack_config["gcp:project"]
    )
    assert template.get("disks.0.autoDelete") is True and template.get("disks.0.boot") is True
    assert template.get("machineType") == spec.gcp.machine_type


def test_fleet_follows_the_spec_heals_and_replaces_without_losing_capacity(inventory, spec, stack_config):
    health = inventory.only("gcp:compute/healthCheck:HealthCheck")
    assert health.get("httpHealthCheck") == {"port": spec.service.port, "requestPath": HEALTH_PATH}
    group = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    zones = stack_config["refarch-gcp:zones"][: spec.zones]
    assert group.get("distributionPolicyZones") == zones
    assert group.get("versions.0.instanceTemplate").endswith("/template?uniqueId=1234")  # the template's link
    from gcp_stack.boot import BOOT_BUDGET

    assert group.get("autoHealingPolicies") == {
        "healthCheck": ref(health),
        "initialDelaySec": BOOT_BUDGET.seconds,
    }
    policy = group.get("updatePolicy")
    assert policy["type"] == "PROACTIVE" and policy["minimalAction"] == "REPLACE"
    assert policy["maxUnavailableFixed"] == 0 and policy["maxSurgeFixed"] == len(zones)
    # A target size Pulumi kept applying would reset a scaled-out group: it is set once, then ignored.
    assert "targetSize" in group.ignore_changes, "a target size would reset a scaled-out group on deploy"
    autoscaler = inventory.only("gcp:compute/regionAutoscaler:RegionAutoscaler")
    assert autoscaler.get("target") == ref(group)
    assert autoscaler.get("autoscalingPolicy.minReplicas") == spec.capacity.min
    assert autoscaler.get("autoscalingPolicy.maxReplicas") == spec.capacity.max
    assert autoscaler.get("autoscalingPolicy.cpuUtilization.target") == spec.capacity.cpu_target_percent / 100


def test_load_balancer_serves_https_only_without_affinity_from_the_fleet(inventory, spec, stack_config, gcp):
    backend = inventory.only("gcp:compute/backendService:BackendService")
    group = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert backend.get("sessionAffinity") == "NONE"
    assert backend.get("loadBalancingScheme") == "EXTERNAL_MANAGED"
    assert backend.get("connectionDrainingTimeoutSec") == spec.service.shutdown_grace_seconds
    assert backend.get("logConfig.enable") is True
    assert backend.get("healthChecks") == ref(inventory.only("gcp:compute/healthCheck:HealthCheck"))
    # The group's instanceGroup output, as the mocks name it.
    instance_group = gcp.module("offline").auto_name(group.name, group.type)
    assert backend.get("backends.0.group").endswith(f"/instanceGroups/{instance_group}")
    assert backend.get("securityPolicy").endswith("/edge")
    routes = inventory.only("gcp:compute/uRLMap:URLMap")
    assert routes.get("defaultService") == ref(backend)
    proxy = inventory.only("gcp:compute/targetHttpsProxy:TargetHttpsProxy")
    assert proxy.get("urlMap") == ref(routes)
    assert proxy.get("sslPolicy") == ref(inventory.only("gcp:compute/sSLPolicy:SSLPolicy"))
    assert inventory.only("gcp:compute/sSLPolicy:SSLPolicy").get("minTlsVersion") == "TLS_1_2"
    certificate = inventory.only("gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert proxy.get("sslCertificates") == [ref(certificate)]
    assert certificate.get("managed.domains") == [stack_config["refarch-gcp:backendDomain"]]
    rule = inventory.only("gcp:compute/globalForwardingRule:GlobalForwardingRule")
    assert (rule.get("target"), rule.get("portRange")) == (ref(proxy), "443")


def test_cloud_armor_runs_every_owasp_rule_set_and_denies_by_default(inventory):
    """What the edge decides is tested in test_gcp_cloud_armor.py; here, what the policy is made of."""
    rules = {
        rule["priority"]: rule
        for rule in inventory.only("gcp:compute/securityPolicy:SecurityPolicy").get("rules")
    }
    waf = [rule for rule in rules.values() if "evaluatePreconfiguredWaf" in str(rule["match"])]
    assert waf and all(rule["action"] == "deny(403)" for rule in waf)
    assert {
        re.search(r"evaluatePreconfiguredWaf\('([^']+)'", str(rule["match"])).group(1) for rule in waf
    } == {
        "sqli-v33-stable",
        "xss-v33-stable",
        "lfi-v33-stable",
        "rce-v33-stable",
        "scannerdetection-v33-stable",
    }
    assert [rule["action"] for rule in rules.values() if rule["action"] not in ("deny(403)",)] == [
        "throttle"
    ], "the only rule that can allow is the rate-limited one"
    assert rules[max(rules)]["action"] == "deny(403)", "what no rule allowed did not come through the gateway"


def test_gateway_points_at_the_load_balancer_and_requires_key_and_client_token(inventory, spec, stack_config):
    project, domain = stack_config["gcp:project"], stack_config["refarch-gcp:backendDomain"]
    gateway = inventory.only("gcp:apigateway/gateway:Gateway")
    config = inventory.only("gcp:apigateway/apiConfig:ApiConfig")
    assert gateway.get("apiConfig") == ref(config)
    assert config.get("api") == inventory.only("gcp:apigateway/api:Api").get("apiId")
    assert config.get("gatewayConfig.backendConfig.googleServiceAccount") == _email(
        inventory, "gateway-account", project
    )
    document = openapi(inventory)
    backend = document["x-google-backend"]
    assert backend["address"] == f"https://{domain}"
    assert backend["jwt_audience"] == service_environment(inventory)["GATEWAY_JWT_AUDIENCE"]
    limit = document["x-google-management"]["quota"]["limits"][0]
    assert limit["values"]["STANDARD"] == round(spec.api.throttle_rate_per_second * 60)
    assert document["security"] == [{"api_key": [], "api_client": []}]
    client = _email(inventory, "api-client-account", project)
    assert document["securityDefinitions"]["api_client"]["x-google-issuer"] == client
    routes = {(path, method): op for path, ops in document["paths"].items() for method, op in ops.items()}
    protected = [op for op in routes.values() if op.get("security") != []]
    # Only the health check is open; every other route of the service (from its own router, not the
    # generator's list) needs a key and a token.
    assert {route for route, op in routes.items() if op.get("security") == []} == {(HEALTH_PATH, "get")}
    assert len(protected) == len(service_routes() - {(HEALTH_PATH, "get")}) > 0
    assert all(op["x-google-quota"] == {"metricCosts": {"requests": 1}} for op in protected)
    key = inventory.only("gcp:projects/apiKey:ApiKey")
    assert key.get("restrictions.apiTargets.0.service").endswith(f".apigateway.{project}.cloud.goog")


def test_cache_is_private_authenticated_encrypted_and_its_secret_readable_by_the_fleet_only(
    inventory, spec, stack_config
):
    cache = inventory.only("gcp:redis/instance:Instance")
    assert cache.get("authEnabled") is True
    assert cache.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    assert cache.get("authorizedNetwork") == ref(inventory.only("gcp:compute/network:Network"))
    assert cache.get("tier") == ("STANDARD_HA" if spec.cache.replicas else "BASIC")
    secret = inventory.only("gcp:secretmanager/secret:Secret")
    assert secret.get("replication.userManaged.replicas") == [{"location": stack_config["gcp:region"]}]
    version = inventory.only("gcp:secretmanager/secretVersion:SecretVersion")
    assert version.get("secret") == ref(secret) and version.get("secretData") == MASK
    grants = inventory.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    fleet = _email(inventory, "fleet-account", stack_config["gcp:project"])
    assert [(g.get("secretId"), g.get("role"), g.get("member")) for g in grants] == [
        (ref(secret), "roles/secretmanager.secretAccessor", f"serviceAccount:{fleet}")
    ]


def test_secrets_stay_masked_everywhere(inventory, gcp):
    assert masked_secrets(inventory) == [
        "gcp:secretmanager/secretVersion:SecretVersion cache-auth-value secretData"
    ]
    assert gcp.module("offline").MOCK_AUTH_STRING not in str(inventory.to_json())


def test_item_store_is_native_firestore_with_ttl_recovery_and_scoped_access(inventory, spec, stack_config):
    database = inventory.only("gcp:firestore/database:Database")
    assert database.get("type") == "FIRESTORE_NATIVE"
    assert database.get("locationId") == stack_config["gcp:region"]
    assert database.get("pointInTimeRecoveryEnablement") == "POINT_IN_TIME_RECOVERY_ENABLED"
    protected = spec.store.deletion_protection
    assert database.get("deleteProtectionState") == (
        "DELETE_PROTECTION_ENABLED" if protected else "DELETE_PROTECTION_DISABLED"
    )
    assert database.get("deletionPolicy") == ("ABANDON" if protected else "DELETE")
    ttl = inventory.only("gcp:firestore/field:Field")
    assert (ttl.get("database"), ttl.get("collection"), ttl.get("field")) == (
        database.get("name"),
        COLLECTION,
        TTL_FIELD,
    )
    assert ttl.get("ttlConfig") == {}
    grant = inventory.named("fleet-uses-items")
    project = stack_config["gcp:project"]
    role = inventory.only("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert grant.get("role") == f"projects/{project}/roles/{role.get('roleId')}"
    assert grant.get("condition.expression") == (
        f'resource.name == "projects/{project}/databases/{database.get("name")}"'
    )


def test_buckets_are_private_uniform_versioned_and_kept(inventory, stack_config):
    buckets = inventory.of_type("gcp:storage/bucket:Bucket")
    assert {bucket.name for bucket in buckets} == {"files", "releases"}
    for bucket in buckets:
        assert bucket.get("uniformBucketLevelAccess") is True
        assert bucket.get("publicAccessPrevention") == "enforced"
        assert bucket.get("versioning") == {"enabled": True}
        assert bucket.get("forceDestroy") is False
    fleet = f"serviceAccount:{_email(inventory, 'fleet-account', stack_config['gcp:project'])}"
    grants = {
        (g.name, g.get("role"), g.get("member"))
        for g in inventory.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    }
    assert grants == {("fleet-reads-releases", "roles/storage.objectViewer", fleet)}


SECRET = "gcp:secretmanager/secret:Secret"
PROJECT_GRANT = "gcp:projects/iAMMember:IAMMember"


def test_every_resource_granted_to_the_fleet_is_one_the_instances_use(inventory, stack_config):
    """Least privilege: a bucket, secret or database the fleet may touch is one its boot script fetches from
    or its service is configured with. The service never calls Cloud Storage, so the files bucket (kept for
    data) grants the fleet nothing; the old `fleet-uses-files` grant fails this."""
    fleet = f"serviceAccount:{_email(inventory, 'fleet-account', stack_config['gcp:project'])}"
    script = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")
    environment = service_environment(inventory)
    used = "\n".join([script, *environment.values()])
    secrets = {ref(secret): secret.get("secretId") for secret in inventory.of_type(SECRET)}
    targets = {
        # What each kind of grant names, as the instances would name it.
        "gcp:storage/bucketIAMMember:BucketIAMMember": lambda grant: grant.get("bucket"),
        "gcp:secretmanager/secretIamMember:SecretIamMember": lambda grant: (
            f"/secrets/{secrets[grant.get('secretId')]}/"
        ),
        "gcp:projects/iAMMember:IAMMember": lambda grant: re.fullmatch(
            r'resource\.name == "projects/[^/]+/databases/([^"]+)"', grant.get("condition.expression")
        ).group(1),
    }
    granted = {
        grant.name: target(grant)
        for type_, target in targets.items()
        for grant in inventory.of_type(type_)
        # Unconditional project roles are the Ops Agent's (test_project_roles_are_only_...).
        if grant.get("member") == fleet
        and (type_ != PROJECT_GRANT or grant.get("condition", None) is not None)
    }
    assert len(granted) >= 3, f"the releases, the cache's AUTH secret and the store at least: {granted}"
    unused = sorted(name for name, target in granted.items() if target not in used)
    assert not unused, f"the fleet is granted what it never uses: {unused}"


def test_project_roles_are_only_what_the_fleet_cannot_do_without(inventory, stack_config):
    fleet = f"serviceAccount:{_email(inventory, 'fleet-account', stack_config['gcp:project'])}"
    grants = inventory.of_type("gcp:projects/iAMMember:IAMMember")
    assert {g.get("member") for g in grants} == {fleet}
    unconditional = sorted(g.get("role") for g in grants if g.get("condition", None) is None)
    assert unconditional == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]


def test_alerts_cover_errors_latency_health_cache_store_and_the_gateway_path(inventory, spec):
    policies = {policy.name: policy for policy in inventory.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}
    assert set(policies) == {
        "errors-5xx",
        "throttled-429",
        "latency-p99",
        "unhealthy-backends",
        "gateway-errors",
        "cache-cpu",
        "cache-memory",
        "store-errors",
        "gateway-down",
    }
    channel = inventory.only("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.get("type") == "email"
    for policy in policies.values():
        # The channel's name as the mocks computed it: every policy notifies the on-call channel.
        assert [c.rsplit("/", 2)[1:] for c in policy.get("notificationChannels")] == [
            ["notificationChannels", "1234567890"]
        ]

    def threshold(name):
        return policies[name].get("conditions.0.conditionThreshold.thresholdValue")

    assert threshold("errors-5xx") == spec.alarms.error_5xx_percent / 100
    assert "denominatorFilter" in policies["errors-5xx"].get("conditions.0.conditionThreshold")
    assert threshold("latency-p99") == spec.alarms.p99_latency_ms
    assert threshold("cache-memory") == spec.alarms.cache_memory_percent / 100
    assert threshold("cache-cpu") == spec.alarms.cache_cpu_percent / 100
    # "N or more" as COMPARISON_GT N - 1 (test_gcp_alarm_policy.py says why).
    assert threshold("store-errors") == spec.alarms.store_throttled_requests - 1
    assert "UNHEALTHY" in policies["unhealthy-backends"].get("conditions.0.conditionMatchedLog.filter")
    uptime = inventory.only("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")
    assert uptime.get("httpCheck.path") == HEALTH_PATH and uptime.get("httpCheck.useSsl") is True
    assert uptime.get("monitoredResource.labels.host").endswith(".gateway.dev")
    assert "through-gateway-check" in policies["gateway-down"].get("conditions.0.conditionThreshold.filter")


def test_logs_are_kept_for_the_spec_retention(inventory, spec, stack_config):
    bucket = inventory.only("gcp:logging/projectBucketConfig:ProjectBucketConfig")
    assert bucket.get("retentionDays") == spec.retention.log_days
    sink = inventory.only("gcp:logging/projectSink:ProjectSink")
    project = stack_config["gcp:project"]
    assert sink.get("destination") == (
        f"logging.googleapis.com/projects/{project}/locations/global/buckets/{bucket.get('bucketId')}"
    )
    for resource in ("http_load_balancer", "api", "gce_instance", "redis_instance"):
        assert f'resource.type="{resource}"' in sink.get("filter")
