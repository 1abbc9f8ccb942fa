"""The AWS roll-back-release runbook refreshes onto the previous launch template in the group's own shape:
a group with instance-type overrides (aws.more_instance_types) keeps them, or a successful refresh would
leave it a single-type group (DesiredConfiguration.MixedInstancesPolicy, botocore's autoscaling model;
"StartInstanceRefresh", Amazon EC2 Auto Scaling API Reference:
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html)."""

from __future__ import annotations

from tools.docs.aws.runbooks.common import refresh_duration
from tools.docs.aws.template import Template
from tools.docs.commands import simple_commands, validate


def _desired_configuration(runbook) -> str:
    (refresh,) = [
        argv
        for step in runbook.steps
        for argv in simple_commands(step.command)
        if argv[:3] == ["aws", "autoscaling", "start-instance-refresh"]
    ]
    return refresh[refresh.index("--desired-configuration") + 1]


def test_the_rollback_refresh_keeps_the_group_s_instance_types(generated, docs_inputs):
    checked = 0
    for stack in generated:
        if stack.facts.cloud != "aws":
            continue
        runbook = next(r for r in stack.runbooks if r.scenario == "roll-back-release")
        template = Template(stack.facts.environment, docs_inputs.models["aws"][stack.facts.environment])
        group = template.only("AWS::AutoScaling::AutoScalingGroup")[1]
        desired = _desired_configuration(runbook)
        if "MixedInstancesPolicy" not in group:
            assert desired.startswith("LaunchTemplate={")
            continue
        checked += 1
        policy = group["MixedInstancesPolicy"]
        assert desired.startswith("MixedInstancesPolicy={LaunchTemplate={LaunchTemplateSpecification=")
        assert "LaunchTemplateId=$LAUNCH_TEMPLATE,Version=$PREVIOUS" in desired
        overrides = ",".join(
            f"{{InstanceType={o['InstanceType']}}}" for o in policy["LaunchTemplate"]["Overrides"]
        )
        assert f"Overrides=[{overrides}]" in desired
        for key, value in policy["InstancesDistribution"].items():
            assert f"{key}={value}" in desired
    assert checked


def test_the_checker_reads_inside_the_overrides_list():
    good = (
        'aws autoscaling start-instance-refresh --auto-scaling-group-name "$ASG" --desired-configuration '
        '"MixedInstancesPolicy={LaunchTemplate={LaunchTemplateSpecification={LaunchTemplateId=$LT,Version=1},'
        "Overrides=[{InstanceType=m7i.large},{InstanceType=m7a.large}]},"
        'InstancesDistribution={OnDemandPercentageAboveBaseCapacity=100}}"'
    )
    assert validate(good) == []
    misspelt = good.replace("{InstanceType=m7a.large}", "{InstanceTyp=m7a.large}")
    assert any("Overrides.InstanceTyp is not a member" in problem for problem in validate(misspelt))
    bare = good.replace("{InstanceType=m7a.large}", "m7a.large")
    assert any("should be a {...} structure" in problem for problem in validate(bare))


def test_the_final_deploy_says_it_refreshes_the_fleet_again(generated):
    # Deploying the previous commit writes a new launch template version and re-resolves the image's SSM
    # parameter: another full refresh the reader must expect, not a no-op.
    for stack in generated:
        if stack.facts.cloud != "aws":
            continue
        runbook = next(r for r in stack.runbooks if r.scenario == "roll-back-release")
        (deploy,) = [step for step in runbook.steps if "cdk deploy" in step.command]
        assert "LatestVersionNumber" in deploy.expected
        assert f"about {round(refresh_duration(stack.facts).seconds / 60)} min" in deploy.expected
        assert "SSM parameter is resolved again" in deploy.expected
