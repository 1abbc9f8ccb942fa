"""The pieces every AWS runbook shares: looking names up from the stack, verifying the service end to end,
and escalating to the people the stack's alarm topic reaches. Every name comes from the stack's outputs
(or, for a resource the stack does not output, its physical id by logical id)."""

from __future__ import annotations

from tools.docs.aws.template import Template
from tools.docs.model import Lookup, StackFacts, Step

# AWS CLI v2 2.13.36 (November 2023) could not pass MaxHealthyPercentage in an instance refresh's preferences
# (https://github.com/aws/aws-cli/issues/8338); 2.15 and later can, and have rollback-instance-refresh. The
# commands were checked against botocore's models (tools/docs/commands/aws_cli.py).
CLI_VERSION = "AWS CLI v2 (2.15 or later; `aws --version` prints it)"

# Output -> the shell variable the runbooks use for it.
VARIABLES = {
    "AutoScalingGroupName": "ASG",
    "TargetGroupArn": "TARGET_GROUP_ARN",
    "ApiUrl": "API_URL",
    "TokenDomain": "TOKEN_DOMAIN",
    "UserPoolId": "USER_POOL_ID",
    "ClientId": "CLIENT_ID",
    "AlarmTopicArn": "TOPIC_ARN",
    "DashboardName": "DASHBOARD",
    "ItemsTableName": "TABLE",
    "CacheEndpoint": "CACHE_ENDPOINT",
    "SyntheticCheckName": "CANARY",
}


def output(facts: StackFacts, name: str) -> Lookup:
    found = facts.output(name)
    return Lookup(
        variable=VARIABLES[name], command=found.lookup, source=f"stack output {name}: {found.description}"
    )


def resource(facts: StackFacts, variable: str, logical_id: str, what: str) -> Lookup:
    return Lookup(
        variable=variable,
        command=(
            f"aws cloudformation describe-stack-resource --stack-name {facts.stack} "
            f"--logical-resource-id {logical_id} --query StackResourceDetail.PhysicalResourceId --output text"
        ),
        source=f"stack resource {logical_id}: {what}",
    )


def exports(facts: StackFacts) -> tuple[tuple[str, str], ...]:
    return (("AWS_REGION", facts.region), ("STACK", facts.stack))


def invoke_scope(template: Template) -> str:
    scopes = {
        scope
        for body in template.of_type("AWS::ApiGateway::Method").values()
        for scope in body["Properties"].get("AuthorizationScopes", [])
    }
    if len(scopes) != 1:
        raise ValueError(
            f"aws {template.environment}: expected one authorization scope, found {sorted(scopes)}"
        )
    return scopes.pop()


# What the verification and escalation steps of every runbook use.
COMMON_OUTPUTS = (
    "TargetGroupArn",
    "ApiUrl",
    "TokenDomain",
    "UserPoolId",
    "ClientId",
    "SyntheticCheckName",
    "DashboardName",
    "AlarmTopicArn",
)


def lookups(facts: StackFacts, *names: str, extra: tuple[Lookup, ...] = ()) -> tuple[Lookup, ...]:
    """The runbook's own outputs first, then what verification and escalation need."""
    ordered = [*names, *(name for name in COMMON_OUTPUTS if name not in names)]
    return (*(output(facts, name) for name in ordered), *extra)


def target_health(facts: StackFacts, expected_count: str) -> Step:
    hc = facts.health_check
    return Step(
        title="Every target of the load balancer is healthy",
        command=(
            'aws elbv2 describe-target-health --target-group-arn "$TARGET_GROUP_ARN" \\\n'
            '  --query "TargetHealthDescriptions[].[Target.Id,TargetHealth.State]" --output text'
        ),
        expected=f"{expected_count}, each an instance id and `healthy`.",
        stop_if=f"any target stays `unhealthy` longer than {hc.interval_seconds} s x {hc.healthy_threshold} "
        f"(healthy threshold) = {hc.interval_seconds * hc.healthy_threshold} s after it became `initial`: "
        "read its `TargetHealth.Reason` (same command with `--output json`) and the service log "
        "(`journalctl -u sample-service` through Session Manager) before going on.",
    )


def request_through_gateway(scope: str) -> tuple[Step, ...]:
    return (
        Step(
            title="Take an access token the way a client does (OAuth client credentials of the stack's app "
            "client)",
            command=(
                'CLIENT_SECRET=$(aws cognito-idp describe-user-pool-client --user-pool-id "$USER_POOL_ID" '
                "\\\n"
                '  --client-id "$CLIENT_ID" --query UserPoolClient.ClientSecret --output text)\n'
                'TOKEN=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \\\n'
                f'  -d scope={scope} "$TOKEN_DOMAIN/oauth2/token" | jq -r .access_token)\n'
                'test -n "$TOKEN" && test "$TOKEN" != null && echo token-ok'
            ),
            expected="`token-ok`.",
            stop_if="no token: the token endpoint's answer (run the curl without `| jq`) says why; the API "
            "cannot be checked without one.",
        ),
        Step(
            title="Write an item through the gateway and read it back",
            command=(
                'curl -sS -X PUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\\n'
                '  -d \'{"written_by": "runbook", "ttl_seconds": 3600}\' "${API_URL}items/runbook-check"\n'
                'curl -sS -H "Authorization: Bearer $TOKEN" "${API_URL}items/runbook-check"'
            ),
            expected='both print the item as JSON, with `"written_by": "runbook"`.',
            stop_if="a 5xx answer or a timeout: the fleet or its store is not serving; go back to the target "
            "health and the dashboard.",
        ),
    )


def alarms_ok() -> Step:
    return Step(
        title="No alarm of the stack is in ALARM",
        command=(
            'aws cloudwatch describe-alarms --alarm-name-prefix "$STACK-" --state-value ALARM \\\n'
            '  --query "MetricAlarms[].AlarmName" --output text'
        ),
        expected="no output (alarms evaluate each minute; allow up to five for them to return to OK).",
        stop_if="an alarm stays in ALARM after five minutes: its name says what (5xx, latency, unhealthy "
        "hosts, canary, cache, store); escalate.",
    )


def canary_passes() -> Step:
    return Step(
        title="The synthetic check passes again",
        command=(
            'aws synthetics get-canary-runs --name "$CANARY" --max-results 3 \\\n'
            '  --query "CanaryRuns[].[Timings.Started,Status.State]" --output text'
        ),
        expected="the newest run (first line) `PASSED`.",
        stop_if="the newest runs are `FAILED` after the procedure ended.",
    )


def dashboard(facts: StackFacts) -> Step:
    return Step(
        title="Look at the dashboard: requests, 5xx, latency and healthy hosts back to their usual level",
        command=(
            f'echo "https://{facts.region}.console.aws.amazon.com/cloudwatch/home?region={facts.region}'
            '#dashboards/dashboard/$DASHBOARD"'
        ),
        expected="the dashboard's address; open it.",
    )


def verification(facts: StackFacts, scope: str, expected_count: str) -> tuple[Step, ...]:
    return (
        target_health(facts, expected_count),
        *request_through_gateway(scope),
        alarms_ok(),
        canary_passes(),
        dashboard(facts),
    )


def escalation(facts: StackFacts, what: str) -> tuple[Step, ...]:
    return (
        Step(
            title="Who the stack's alarms reach (the on-call subscriptions of its alarm topic)",
            command=(
                'aws sns list-subscriptions-by-topic --topic-arn "$TOPIC_ARN" \\\n'
                '  --query "Subscriptions[].[Protocol,Endpoint]" --output text'
            ),
            expected="at least one subscription; these people see every alarm of this stack.",
            stop_if="no subscription: nobody receives the alarms; page the platform team directly.",
        ),
        Step(
            title="Tell them what is happening, through the same topic",
            command=(
                f'aws sns publish --topic-arn "$TOPIC_ARN" \\\n  --subject "{facts.stack}: {what}" \\\n'
                '  --message "Runbook step failed: <step number and what it printed>"'
            ),
            expected="a MessageId.",
        ),
        Step(
            title="If an AWS service is impaired (the AWS Health Dashboard for your account shows an event), "
            "open an AWS Support case from the console with the event, the stack name and the region."
        ),
    )
