"""With a certificate in the spec, the gateway reaches the load balancer over HTTPS only, TLS 1.2 or newer;
without one it stays HTTP inside the VPC (the README's known limit). ALB->instance remains HTTP inside
the private subnets: the service does not terminate TLS."""

from __future__ import annotations

import pytest
from cfn_queries import of_type, only

from refarch.errors import SpecError
from refarch.spec import load_environment
from stacks.load_balancer import HTTPS_PORT
from tests.aws.conftest import synthesize

CERTIFICATE = "arn:aws:acm:eu-west-1:111111111111:certificate/12345678-1234-1234-1234-123456789012"
DOMAIN = "service.internal.example.com"
# Elastic Load Balancing, "Security policies for your Application Load Balancer": TLS 1.2 and newer only.
TLS12_OR_NEWER = (
    "RECOMMENDED_TLS",
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
)


@pytest.fixture(scope="module")
def with_certificate(tmp_path_factory):
    context = {"spec.prod.tls.certificate_arn": CERTIFICATE, "spec.prod.tls.domain": DOMAIN}
    synthesized = synthesize(tmp_path_factory.mktemp("cdk.out-tls"), **context)
    assert synthesized.nag == [], "the HTTPS variant must pass cdk-nag too"
    return synthesized.templates["prod"]["Resources"]


def test_the_only_listener_is_https_with_the_spec_certificate_and_a_tls12_policy(with_certificate):
    listener = only(with_certificate, "AWS::ElasticLoadBalancingV2::Listener")
    assert listener["Protocol"] == "HTTPS" and listener["Port"] == HTTPS_PORT
    assert listener["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert listener["SslPolicy"] in TLS12_OR_NEWER


def test_the_gateway_calls_the_certificate_name_over_https(with_certificate):
    for method in of_type(with_certificate, "AWS::ApiGateway::Method").values():
        uri = method["Properties"]["Integration"]["Uri"]
        assert isinstance(uri, str) and uri.startswith(f"https://{DOMAIN}/"), uri


def test_without_a_certificate_the_known_limit_holds(resources):
    listener = only(resources, "AWS::ElasticLoadBalancingV2::Listener")
    assert listener["Protocol"] == "HTTP"


def test_a_spec_can_require_a_certificate():
    with pytest.raises(SpecError, match=r"tls.certificate_arn.*tls.required is true"):
        load_environment("prod", overrides={"prod.tls.required": True})
    with pytest.raises(SpecError, match=r"tls.domain.*together"):
        load_environment("prod", overrides={"prod.tls.certificate_arn": CERTIFICATE})
