"""Each AWS runbook's policy scopes what can be scoped to the stack's own resources, read from the template:
the group, the alarm topic and its key, the service's log group, the user pool, the group's instances.

Resource types and ARN formats: Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/): list_amazonec2autoscaling.html
(autoScalingGroup `...:autoScalingGroup:${GroupId}:autoScalingGroupName/${GroupFriendlyName}`),
list_amazonsns.html (topic `arn:${Partition}:sns:${Region}:${Account}:${TopicName}`),
list_amazoncloudwatchlogs.html (FilterLogEvents: log-group `...:log-group:${LogGroupName}`),
list_amazoncognitouserpools.html (DescribeUserPoolClient: userpool `...:userpool/${UserPoolId}`),
list_amazonec2.html (GetConsoleOutput: instance, aws:ResourceTag/${TagKey}). A publisher to a topic
encrypted with a customer managed key needs kms:GenerateDataKey* and kms:Decrypt on it ("Managing Amazon
SNS encryption keys and costs": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from stacks.monitoring import TOPIC_KEY_ACTIONS
from stacks.service_stack import stack_name
from tools.docs.aws.facts import physical_name
from tools.docs.aws.iam import TOPIC_KEY_OUTPUT, TOPIC_KEY_SID, USER_POOL_OUTPUT, stack_scopes
from tools.docs.aws.template import Template, TemplateError, ref_id


def _runbooks(generated, scenario=None):
    for stack in generated:
        if stack.facts.cloud != "aws":
            continue
        for runbook in stack.runbooks:
            if scenario is None or runbook.scenario == scenario:
                yield stack.facts, runbook


def _statement_for(runbook, action):
    (found,) = [s for s in json.loads(runbook.permissions)["Statement"] if action in s["Action"]]
    return found


def _only(model, type_):
    (found,) = [(name, body) for name, body in model["Resources"].items() if body["Type"] == type_]
    return found


def _generated_name(environment, logical_id):
    """A name as CloudFormation generates it: "<stack name>-<logical id>-<random suffix>"."""
    return f"{stack_name(environment)}-{logical_id}-1A2B3C4D5E6F"


def test_replace_one_instance_may_publish_through_the_topic_s_own_key(generated, docs_inputs):
    for facts, runbook in _runbooks(generated, "replace-one-instance"):
        model = docs_inputs.models["aws"][facts.environment]
        _, topic = _only(model, "AWS::SNS::Topic")
        key = ref_id(topic["Properties"]["KmsMasterKeyId"])
        # The stack outputs the key's ARN; the policy names that output and the runbook how to look it up.
        assert model["Outputs"][TOPIC_KEY_OUTPUT]["Value"] == {"Fn::GetAtt": [key, "Arn"]}
        statement = _statement_for(runbook, "kms:Decrypt")
        assert statement["Sid"] == TOPIC_KEY_SID
        assert set(statement["Action"]) == set(TOPIC_KEY_ACTIONS)
        assert TOPIC_KEY_OUTPUT in statement["Resource"] and key in statement["Resource"]
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"sns.{facts.region}.amazonaws.com"}
        }
        assert f"OutputKey=='{TOPIC_KEY_OUTPUT}'" in runbook.permissions_note


def test_set_instance_health_names_the_stack_s_group_only(generated, docs_inputs):
    for facts, runbook in _runbooks(generated, "replace-one-instance"):
        model = docs_inputs.models["aws"][facts.environment]
        group, _ = _only(model, "AWS::AutoScaling::AutoScalingGroup")
        resource = _statement_for(runbook, "autoscaling:SetInstanceHealth")["Resource"]
        assert resource != "*"
        arn = "arn:aws:autoscaling:{}:111122223333:autoScalingGroup:{}:autoScalingGroupName/{}"
        own = arn.format(facts.region, "0f1e2d3c", _generated_name(facts.environment, group))
        assert fnmatchcase(own, resource)
        other = arn.format(facts.region, "0f1e2d3c", _generated_name("other", group))
        assert not fnmatchcase(other, resource)
        assert not fnmatchcase(own.replace(facts.region, "us-east-2"), resource)


def test_describe_user_pool_client_names_the_pool(generated, docs_inputs):
    for facts, runbook in _runbooks(generated):
        resource = _statement_for(runbook, "cognito-idp:DescribeUserPoolClient")["Resource"]
        assert (
            resource
            == f"arn:aws:cognito-idp:{facts.region}:*:userpool/<the stack's {USER_POOL_OUTPUT} output>"
        )
        outputs = docs_inputs.models["aws"][facts.environment]["Outputs"]
        pool, _ = _only(docs_inputs.models["aws"][facts.environment], "AWS::Cognito::UserPool")
        assert outputs[USER_POOL_OUTPUT]["Value"] == {"Ref": pool}
        assert f"OutputKey=='{USER_POOL_OUTPUT}'" in runbook.permissions_note


def test_log_reads_reach_the_service_log_only(generated, docs_inputs):
    for facts, runbook in _runbooks(generated, "replace-one-instance"):
        model = docs_inputs.models["aws"][facts.environment]
        resource = _statement_for(runbook, "logs:FilterLogEvents")["Resource"]
        groups = {
            name: body["Properties"]
            for name, body in model["Resources"].items()
            if body["Type"] == "AWS::Logs::LogGroup"
        }
        service = facts.details["service_log_group"]
        for name, props in groups.items():
            log_name = props.get("LogGroupName", _generated_name(facts.environment, name))
            arn = f"arn:aws:logs:{facts.region}:111122223333:log-group:{log_name}"
            # The WAF log (client addresses) and every other log group of the stack stay out of reach.
            assert fnmatchcase(arn, resource) == (name == service), name
            assert fnmatchcase(arn + ":*", resource) == (name == service), name


def test_publishing_names_the_alarm_topic_and_console_reads_the_group_s_instances(generated, docs_inputs):
    for facts, runbook in _runbooks(generated, "replace-one-instance"):
        model = docs_inputs.models["aws"][facts.environment]
        topic, _ = _only(model, "AWS::SNS::Topic")
        group, _ = _only(model, "AWS::AutoScaling::AutoScalingGroup")
        for action in ("sns:Publish", "sns:ListSubscriptionsByTopic"):
            resource = _statement_for(runbook, action)["Resource"]
            name = _generated_name(facts.environment, topic)
            assert fnmatchcase(f"arn:aws:sns:{facts.region}:111122223333:{name}", resource)
            assert not fnmatchcase(f"arn:aws:sns:{facts.region}:111122223333:other-topic", resource)
        console = _statement_for(runbook, "ec2:GetConsoleOutput")
        assert console["Resource"] == f"arn:aws:ec2:{facts.region}:*:instance/*"
        ((key, pattern),) = console["Condition"]["StringLike"].items()
        assert key == "aws:ResourceTag/aws:autoscaling:groupName"
        assert fnmatchcase(_generated_name(facts.environment, group), pattern)
        assert not fnmatchcase(_generated_name("other", group), pattern)


def test_no_scopable_action_is_granted_on_everything(generated, docs_inputs):
    for facts, runbook in _runbooks(generated):
        cache_group = facts.details["cache_group"]
        scopable = set(stack_scopes(facts.details["names"], region=facts.region, cache_group=cache_group))
        for statement in json.loads(runbook.permissions)["Statement"]:
            if statement.get("Resource") == "*":
                assert not scopable & set(statement["Action"]), (facts.environment, runbook.scenario)


def test_a_name_the_template_sets_is_used_as_is_and_one_it_computes_is_refused(docs_inputs):
    model = json.loads(json.dumps(docs_inputs.models["aws"]["prod"]))
    topic, body = _only(model, "AWS::SNS::Topic")
    assert physical_name(Template("prod", model), topic) == f"{stack_name('prod')}-{topic}-*"
    body["Properties"]["TopicName"] = "alarms"
    assert physical_name(Template("prod", model), topic) == "alarms"
    body["Properties"]["TopicName"] = {"Fn::Join": ["", ["a", "b"]]}
    with pytest.raises(TemplateError, match=f"{topic}'s name is no literal"):
        physical_name(Template("prod", model), topic)
