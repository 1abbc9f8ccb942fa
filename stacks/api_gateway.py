"""API tier: the only public entry. REST API with Cognito auth, throttling, access logs and WAF,
reaching the internal load balancer privately through a VPC link v2."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnResource, Duration, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from refarch.spec import WAF_WINDOW_SECONDS, EnvironmentSpec
from sample_service.defaults import MAX_BODY_BYTES
from stacks.acknowledgments import acknowledge, acknowledge_checkov
from stacks.retention import removal_policy, retained_log_group

STAGE = "v1"
# What each access-log line records: who called, what the integration answered and how long it took.
ACCESS_LOG_FIELDS = {
    "requestId": apigw.AccessLogField.context_request_id(),
    "ip": apigw.AccessLogField.context_identity_source_ip(),
    "clientId": apigw.AccessLogField.context_authorizer_claims("client_id"),
    "requestTime": apigw.AccessLogField.context_request_time(),
    "httpMethod": apigw.AccessLogField.context_http_method(),
    "resourcePath": apigw.AccessLogField.context_resource_path(),
    "path": apigw.AccessLogField.context_path(),
    "protocol": apigw.AccessLogField.context_protocol(),
    "status": apigw.AccessLogField.context_status(),
    "responseLength": apigw.AccessLogField.context_response_length(),
    "responseLatency": apigw.AccessLogField.context_response_latency(),
    # `$context.integration.*` is the backend's answer; AccessLogField's `integrationStatus` is Lambda's
    # (API Gateway, "Variables for access logging for API Gateway").
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationError": "$context.integration.error",
    "wafStatus": apigw.AccessLogField.context_waf_response_code(),
}
RESOURCE_SERVER = "service"
INVOKE_SCOPE = "invoke"
# AWS WAF body inspection limits for API Gateway (CloudFormation, RequestBodyAssociatedResourceTypeConfig).
INSPECTION_LIMITS_KIB = (16, 32, 48, 64)
# Common rule set rules that would block what the service accepts; they count, our own rules decide.
COMMON_RULES_COUNTED = ("SizeRestrictions_BODY",)
# API Gateway never waits longer than this for an integration.
INTEGRATION_TIMEOUT = Duration.seconds(29)


def api_name(spec: EnvironmentSpec) -> str:
    return f"stateless-service-{spec.name}"


class PublicApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        load_balancer: elbv2.IApplicationLoadBalancer,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=vpc,
            description="API gateway VPC link: to the load balancer only",
            allow_all_outbound=False,
        )
        self.vpc_link = apigwv2.VpcLink(
            self, "VpcLink", vpc=vpc, subnets=subnets, security_groups=[self.security_group]
        )
        self._build_identity(spec)
        access_logs = retained_log_group(self, "AccessLogs", spec)
        self.api = apigw.RestApi(
            self,
            "Api",
            # Named per environment: API Gateway's metrics are keyed by ApiName, so two environments in one
            # account and region must not share a name.
            rest_api_name=api_name(spec),
            description=f"Stateless service API ({spec.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The CloudWatch role is account-wide: the account stack (stacks/account.py) sets it once.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=spec.api.throttle_rate_per_second,
                throttling_burst_limit=spec.api.throttle_burst,
            ),
        )
        acknowledge(self.api, "AwsSolutions-APIG2")
        acknowledge_checkov(self.api.deployment_stage.node.default_child, "CKV_AWS_120")
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])
        # The proxy path must be present; bodies are the service's to validate (it answers 4xx itself).
        validator = self.api.add_request_validator("ProxyParameters", validate_request_parameters=True)
        method_options = {
            "request_validator": validator,
            "authorizer": authorizer,
            "authorization_type": apigw.AuthorizationType.COGNITO,
            "authorization_scopes": [self.invoke_scope],
        }
        for resource, path in ((self.api.root, ""), (self.api.root.add_resource("{proxy+}"), "{proxy}")):
            method = resource.add_method(
                "ANY",
                self._integration(spec, load_balancer, path),
                request_parameters={"method.request.path.proxy": True} if path else None,
                **method_options,
            )
            self._route_through_vpc_link(method, load_balancer)
        # The L1 overrides are invisible to the deployment's hash: without them, a new VPC link or load
        # balancer would change the methods but leave the stage on the old deployment.
        self.api.latest_deployment.add_to_logical_id(
            {"ConnectionId": self.vpc_link.vpc_link_id, "IntegrationTarget": load_balancer.load_balancer_arn}
        )
        # Those are Refs, unchanged when CloudFormation replaces the link or the load balancer under the
        # same logical id (a VPC link's SubnetIds and SecurityGroupIds require replacement). Like RestApi
        # does for its own resource, hash what they are built from, resolved: a replacement redeploys.
        # Taken now: the network and the load balancer are complete before the API is built on them.
        # The link follows its subnets, security group and VPC; the load balancer is replaced only for
        # its own properties (Name, Scheme, Type), so its references (log bucket...) stay out.
        for root, transitive in ((self.vpc_link, True), (load_balancer, False)):
            self.api.latest_deployment.add_to_logical_id(resolved_definitions(root, transitive=transitive))
        self._build_firewall(spec)

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def token_url(self) -> str:
        return f"{self.user_pool_domain.base_url()}/oauth2/token"

    def _build_identity(self, spec: EnvironmentSpec) -> None:
        """Machine clients get tokens by the OAuth client-credentials flow; nobody signs themselves up."""
        self.user_pool = cognito.UserPool(
            self,
            "Clients",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_digits=True,
                require_lowercase=True,
                require_symbols=True,
                require_uppercase=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=spec.production,
            removal_policy=removal_policy(spec),
        )
        acknowledge(self.user_pool, "AwsSolutions-COG2")
        invoke = cognito.ResourceServerScope(
            scope_name=INVOKE_SCOPE, scope_description="Call the service API"
        )
        resource_server = self.user_pool.add_resource_server(
            "Service", identifier=RESOURCE_SERVER, scopes=[invoke]
        )
        self.invoke_scope = f"{RESOURCE_SERVER}/{INVOKE_SCOPE}"
        self.client_scope = cognito.OAuthScope.resource_server(resource_server, invoke)
        # Domain prefixes are global: the stack id's first segment keeps this one unique per stack.
        unique = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Stack.of(self).stack_id))))
        self.user_pool_domain = self.user_pool.add_domain(
            "TokenEndpoint",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"svc-{spec.name}-{unique}"),
        )
        self.client = self.user_pool.add_client(
            "ServiceClient",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[self.client_scope],
            ),
            access_token_validity=Duration.minutes(60),
            prevent_user_existence_errors=True,
        )

    @staticmethod
    def _integration(
        spec: EnvironmentSpec, load_balancer: elbv2.IApplicationLoadBalancer, path: str
    ) -> apigw.Integration:
        # Over the VPC link the target is IntegrationTarget; with HTTPS the URI's host is the name the
        # gateway checks the load balancer's certificate against (API Gateway, "Set up a private
        # integration": "To use HTTPS, specify an uri that contains a secure server name").
        base = (
            f"https://{spec.tls.domain}"
            if spec.tls.domain
            else f"http://{load_balancer.load_balancer_dns_name}"
        )
        return apigw.Integration(
            type=apigw.IntegrationType.HTTP_PROXY,
            integration_http_method="ANY",
            uri=f"{base}/{path}",
            options=apigw.IntegrationOptions(
                request_parameters=(
                    {"integration.request.path.proxy": "method.request.path.proxy"} if path else None
                ),
                timeout=INTEGRATION_TIMEOUT,
            ),
        )

    def _route_through_vpc_link(
        self, method: apigw.Method, load_balancer: elbv2.IApplicationLoadBalancer
    ) -> None:
        # aws-cdk-lib has no L2 for REST private integrations over VPC link v2: set them on the L1.
        cfn_method: apigw.CfnMethod = method.node.default_child
        cfn_method.add_property_override("Integration.ConnectionType", "VPC_LINK")
        cfn_method.add_property_override("Integration.ConnectionId", self.vpc_link.vpc_link_id)
        cfn_method.add_property_override("Integration.IntegrationTarget", load_balancer.load_balancer_arn)

    def _build_firewall(self, spec: EnvironmentSpec) -> None:
        def managed(
            name: str,
            priority: int,
            overrides: list[wafv2.CfnWebACL.RuleActionOverrideProperty] | None = None,
        ) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name, rule_action_overrides=overrides
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(name),
            )

        rate_limit = wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=0,
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=spec.api.waf_requests_per_ip_per_5_minutes,
                    evaluation_window_sec=WAF_WINDOW_SECONDS,
                )
            ),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            visibility_config=_visibility("RateLimitPerIp"),
        )
        # The common rule set blocks bodies over 8 KB; the service reads up to MAX_BODY_BYTES. That rule
        # only counts, and this one blocks at the service's own limit. Bodies beyond what WAF inspects
        # count as oversize, which matches (AWS WAF, "Oversize web request components").
        body_limit = wafv2.CfnWebACL.RuleProperty(
            name="BodyOverServiceLimit",
            priority=4,
            statement=wafv2.CfnWebACL.StatementProperty(
                size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                        body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                    ),
                    comparison_operator="GT",
                    size=MAX_BODY_BYTES,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            ),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            visibility_config=_visibility("BodyOverServiceLimit"),
        )
        count_instead = [
            wafv2.CfnWebACL.RuleActionOverrideProperty(
                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
            )
            for rule in COMMON_RULES_COUNTED
        ]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "Firewall",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("ServiceApi"),
            rules=[
                rate_limit,
                managed("AWSManagedRulesAmazonIpReputationList", 1),
                managed("AWSManagedRulesCommonRuleSet", 2, count_instead),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
                body_limit,
            ],
            # API Gateway forwards this much of each body to WAF (16 KB unless raised).
            association_config=wafv2.CfnWebACL.AssociationConfigProperty(
                request_body={
                    "API_GATEWAY": wafv2.CfnWebACL.RequestBodyAssociatedResourceTypeConfigProperty(
                        default_size_inspection_limit=inspection_limit(MAX_BODY_BYTES)
                    )
                }
            ),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "FirewallOnStage",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        # WAF only writes to log groups whose name starts with this prefix.
        stack = Stack.of(self)
        waf_logs = retained_log_group(self, "FirewallLogs", spec, name=f"aws-waf-logs-{stack.stack_name}")
        # WAF wants the log group's ARN without the ":*" suffix that LogGroup.log_group_arn carries.
        waf_logs_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=waf_logs.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "FirewallLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[waf_logs_arn],
        )


def resolved_definitions(root: Construct, *, transitive: bool) -> list[dict]:
    """The resolved type and properties of a construct's resource and, if transitive, of every resource
    of its stack they reference, sorted by logical id; an imported construct (no resource) adds nothing."""
    stack = Stack.of(root)
    by_id = {
        stack.get_logical_id(node): node for node in stack.node.find_all() if isinstance(node, CfnResource)
    }
    resource = root.node.default_child
    pending = [stack.get_logical_id(resource)] if isinstance(resource, CfnResource) else []
    seen: dict[str, dict] = {}
    while pending:
        logical_id = pending.pop()
        if logical_id in seen or logical_id not in by_id:
            continue
        resource = by_id[logical_id]
        seen[logical_id] = {"Type": resource.cfn_resource_type, **stack.resolve(resource._cfn_properties)}
        if transitive:
            pending.extend(_referenced_ids(seen[logical_id]))
    return [seen[logical_id] for logical_id in sorted(seen)]


def _referenced_ids(value: object) -> list[str]:
    """Logical ids named by Ref or Fn::GetAtt anywhere in a resolved value."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            return [value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return [value["Fn::GetAtt"][0]]
        return [found for item in value.values() for found in _referenced_ids(item)]
    if isinstance(value, list):
        return [found for item in value for found in _referenced_ids(item)]
    return []


def inspection_limit(body_bytes: int) -> str:
    """The smallest body inspection limit WAF offers for API Gateway that covers `body_bytes`."""
    for kib in INSPECTION_LIMITS_KIB:
        if body_bytes <= kib * 1024:
            return f"KB_{kib}"
    raise ValueError(
        f"MAX_BODY_BYTES={body_bytes}: AWS WAF inspects at most {INSPECTION_LIMITS_KIB[-1]} KB of an API "
        "Gateway request body, so it could not enforce the service's limit"
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )
