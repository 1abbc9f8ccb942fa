"""The pieces every AWS runbook shares: looking names up from the stack, verifying the service end to end,
and escalating to the people the stack's alarm topic reaches. Every name comes from the stack's outputs
(or, for a resource the stack does not output, its physical id by logical id)."""

from __future__ import annotations

from stacks.app_builder import SPEC_OVERRIDE_PREFIX
from stacks.service_stack import ESCALATION_OUTPUT
from tools.docs.aws.template import Template
from tools.docs.model import Lookup, StackFacts, Step, escalation_contact

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
    "DataKeyArn": "DATA_KEY_ARN",
    "TopicKeyArn": "TOPIC_KEY_ARN",
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


# The template names no account (the stack is deployed to whichever `-c account=...` or CDK_DEFAULT_ACCOUNT
# says): the reader's credentials name it, and the check after the lookups shows it.
ACCOUNT = Lookup(
    variable="ACCOUNT",
    command="aws sts get-caller-identity --query Account --output text",
    source="the account your credentials are for: it must be the one the stack was deployed to "
    "(`cdk deploy -c account=...` or CDK_DEFAULT_ACCOUNT)",
)


def lookups(facts: StackFacts, *names: str, extra: tuple[Lookup, ...] = ()) -> tuple[Lookup, ...]:
    """The account first, the runbook's own outputs, then what verification and escalation need."""
    ordered = [*names, *(name for name in COMMON_OUTPUTS if name not in names)]
    return (ACCOUNT, *(output(facts, name) for name in ordered), *extra)


def lookup_check(facts: StackFacts, found: tuple[Lookup, ...]) -> tuple[str, str]:
    """A command after the lookups that stops at the first empty one (`${NAME:?}`: the shell refuses to
    expand an unset or empty variable), and what it prints when every lookup found its name."""
    guards = [f"{lookup.variable}=${{{lookup.variable}:?}}" for lookup in found]
    lines = [" ".join(guards[index : index + 3]) for index in range(0, len(guards), 3)]
    command = 'echo "' + " \\\n  ".join(lines) + '"'
    expected = (
        "Expected: the last command prints every name, starting with `ACCOUNT=` and your account id. "
        f"Stop if: it prints `{found[1].variable}: parameter null or not set` (or names another variable): "
        "that lookup found nothing: wrong account (compare `ACCOUNT`), wrong region, an expired session or "
        f"no stack `{facts.stack}` there. Fix the credentials "
        "and run the block again; nothing below works without every name."
    )
    return command, expected


# Where a target's failure is explained in the service's own log (a runbook may name another way in).
SERVICE_LOG = "(`journalctl -u sample-service` through Session Manager)"


def target_health(facts: StackFacts, expected_count: str, *, log_hint: str = SERVICE_LOG) -> Step:
    hc = facts.health_check
    healthy = hc.healthy_seconds
    return Step(
        title="Every target of the load balancer is healthy",
        command=(
            'aws elbv2 describe-target-health --target-group-arn "$TARGET_GROUP_ARN" \\\n'
            '  --query "TargetHealthDescriptions[].[Target.Id,TargetHealth.State,TargetHealth.Reason,'
            'TargetHealth.Description]" \\\n'
            "  --output text"
        ),
        expected=f"{expected_count}, each an instance id, `healthy`, `None`, `None` (a target that is not "
        "healthy shows its reason and description instead: `Elb.InitialHealthChecking` while a new one "
        "boots).",
        # A new target may be unhealthy for its whole boot budget before it must pass the check.
        stop_if=f"a target is not `healthy` {facts.boot_budget_seconds} s (boot budget) + "
        f"{hc.interval_seconds} s x {hc.healthy_threshold} (healthy threshold) = "
        f"{facts.boot_budget_seconds + healthy} s after its launch activity started: its reason and "
        f"description (last two columns) and the service log {log_hint} say why; escalate.",
    )


def request_through_gateway(scope: str) -> tuple[Step, ...]:
    # -w prints the HTTP status after the body: curl -sS alone prints a 5xx's body as if it were an answer.
    status = "-w '\\nHTTP %{http_code}\\n'"
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
                f'curl -sS {status} -X PUT -H "Authorization: Bearer $TOKEN" \\\n'
                '  -H "Content-Type: application/json" -d \'{"written_by": "runbook", "ttl_seconds": 3600}\' '
                "\\\n"
                '  "${API_URL%/}/items/runbook-check"\n'
                f'curl -sS {status} -H "Authorization: Bearer $TOKEN" "${{API_URL%/}}/items/runbook-check"'
            ),
            expected='each prints the item as JSON, with `"written_by": "runbook"`, then `HTTP 200`.',
            stop_if=f"`HTTP 401` or `HTTP 403`: the token expired or lacks the scope `{scope}`; take one "
            "again (step 2). `HTTP 5xx` or a timeout: the fleet or its store is not serving; go back to the "
            "target health and the dashboard, then escalate.",
        ),
    )


def alarms_ok(facts: StackFacts) -> Step:
    count = facts.details["alarm_count"]
    return Step(
        title="No alarm of the stack is in ALARM",
        command=(
            'aws cloudwatch describe-alarms --alarm-name-prefix "$STACK-" --query "length(MetricAlarms)" '
            "--output text\n"
            'aws cloudwatch describe-alarms --alarm-name-prefix "$STACK-" --state-value ALARM \\\n'
            '  --query "MetricAlarms[].AlarmName" --output text'
        ),
        # CloudFormation names an alarm without AlarmName "<stack>-<logical id>-<suffix>": the prefix finds
        # exactly the template's alarms. The count proves it found them before "no output" means all clear.
        expected=f"`{count}` (the stack's alarms), then no output (alarms evaluate each minute; allow up to "
        "five for them to return to OK).",
        stop_if=f"the count is not {count}: the prefix does not find the stack's alarms (wrong account or "
        "region), so no output proves nothing. An alarm stays in ALARM after five minutes: its name says "
        "what (5xx, latency, unhealthy hosts, canary, cache, store); escalate.",
    )


def canary_passes(facts: StackFacts) -> Step:
    every = facts.details["canary_schedule_seconds"]
    # Synthetics answers epoch seconds, which botocore turns into the local time zone
    # (botocore.utils._parse_timestamp_with_tzinfo, first tzinfo option tzlocal); TZ=UTC prints the start
    # in UTC, the zone of the times the runbooks note (`date -u`).
    return Step(
        title="The synthetic check passes again",
        command=(
            'TZ=UTC aws synthetics describe-canaries-last-run --names "$CANARY" \\\n'
            '  --query "CanariesLastRun[0].LastRun.[Timeline.Started,Status.State,Status.StateReason]" '
            "--output text"
        ),
        expected=f"the canary's newest run, started (UTC, `+00:00`) after the procedure's last step, "
        f"`PASSED`. It runs every {every} s (its schedule): repeat the command until the start time is later "
        f"than that step, at most {2 * every} s; `RUNNING`: the run is not over, repeat in 60 s.",
        stop_if="`FAILED` (the last column says why), or no run started within that time: escalate.",
    )


def dashboard(facts: StackFacts) -> Step:
    limits = "; ".join(f"{limit}" for limit in facts.details["alarm_limits"])
    return Step(
        title="Look at the dashboard: requests, 5xx, latency and healthy hosts back on the right side of "
        "their alarms",
        command=(
            f'echo "https://{facts.region}.console.aws.amazon.com/cloudwatch/home?region={facts.region}'
            '#dashboards/dashboard/$DASHBOARD"'
        ),
        expected=f"the dashboard's address; open it. Each metric within its alarm's threshold (the stack's "
        f"alarms): {limits}; the 5xx and throttling rates, computed from several metrics, are shown by the "
        "alarms of step 4.",
        stop_if="a metric stays beyond its threshold: its alarm (step 4) fires within its evaluation "
        "periods; escalate.",
    )


def verification(
    facts: StackFacts, scope: str, expected_count: str, *, log_hint: str = SERVICE_LOG
) -> tuple[Step, ...]:
    return (
        target_health(facts, expected_count, log_hint=log_hint),
        *request_through_gateway(scope),
        alarms_ok(facts),
        canary_passes(facts),
        dashboard(facts),
    )


FAILED_STEP = "Runbook step failed: <step number and what it printed>"


def escalation_hint(facts: StackFacts) -> str:
    """Where to set the escalation destination so that it reaches the runbooks as well as the stack: the
    runbooks are synthesized from cdk.json's context and environments.toml (tools/docs/inputs.py, new_app),
    never from a deploy's `-c`, which would change the stack's output but not this text."""
    env = facts.environment
    return (
        f"cdk.json context `{SPEC_OVERRIDE_PREFIX}{env}.alarms.escalation`, or environments.toml "
        f"`[{env}.alarms]`; not `cdk deploy -c`, which `python -m tools.docs` does not see: the stack would "
        "page one destination, the runbooks name another"
    )


def escalation(facts: StackFacts, what: str, *, message: str = FAILED_STEP) -> tuple[Step, ...]:
    """Whom to page (the stack's `Escalation` output), who the alarms reach, and telling them through the
    alarm topic: `message` is what the on-call sends (a runbook adds what whoever helps needs to know)."""
    page = escalation_contact(facts.escalation, f"stack output `{ESCALATION_OUTPUT}`", escalation_hint(facts))
    nobody = (
        f"page `{facts.escalation}` (step 1)" if facts.escalation else "page whoever owns this environment"
    )
    return (
        page,
        Step(
            title="Who the stack's alarms reach (the on-call subscriptions of its alarm topic)",
            command=(
                'aws sns list-subscriptions-by-topic --topic-arn "$TOPIC_ARN" \\\n'
                '  --query "Subscriptions[].[Protocol,Endpoint]" --output text'
            ),
            expected="at least one subscription; these people see every alarm of this stack.",
            stop_if=f"no subscription: nobody receives the alarms; {nobody}.",
        ),
        Step(
            title="Tell them what is happening, through the same topic",
            command=(
                f'aws sns publish --topic-arn "$TOPIC_ARN" \\\n  --subject "{facts.stack}: {what}" \\\n'
                f'  --message "{message}"'
            ),
            expected="a MessageId.",
        ),
        Step(
            title="If an AWS service is impaired (the AWS Health Dashboard for your account shows an event), "
            "open an AWS Support case from the console with the event, the stack name and the region."
        ),
    )
