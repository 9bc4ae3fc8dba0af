"""AWS credentials and Signature Version 4 (reporter/byok_reporter/aws.py), checked against botocore's own signer:
the probe signs with the standard library only, so the reporter needs no AWS SDK, and must sign exactly as AWS's
SDK does or every AWS probe would read a working key as rejected."""
from __future__ import annotations

from datetime import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from byok_reporter.aws import AwsKey, aws_key, sign

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example+session+token=="


def botocore_signature(method: str, host: str, path: str, region: str, service: str, key: AwsKey,
                       amz_date: str) -> str:
    """botocore's signature for the same request at the same instant."""
    request = AWSRequest(method=method, url=f"https://{host}{path}", headers={"X-Amz-Date": amz_date})
    if key.session_token:
        request.headers["X-Amz-Security-Token"] = key.session_token
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(ReadOnlyCredentials(key.access_key_id, key.secret_access_key, key.session_token), service,
                     region)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


@pytest.mark.parametrize("host, path, region, service", [
    ("bedrock-runtime.us-west-2.amazonaws.com", "/async-invoke?maxResults=1", "us-west-2", "bedrock"),
    ("bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "/async-invoke?maxResults=1", "us-gov-west-1", "bedrock"),
    ("polly.eu-central-1.amazonaws.com", "/v1/voices", "eu-central-1", "polly"),
    ("polly.cn-north-1.amazonaws.com.cn", "/v1/voices?Engine=neural&LanguageCode=en-US", "cn-north-1", "polly"),
    ("127.0.0.1:8443", "/async-invoke?statusEquals=Completed&maxResults=1&x=a%20b", "ap-south-1", "bedrock"),
])
@pytest.mark.parametrize("token", [None, TOKEN], ids=["long-term", "temporary"])
def test_the_signature_is_botocores(host, path, region, service, token):
    key = AwsKey(AKID, SECRET, token)
    headers = sign("GET", host, path, region, service, key, datetime(2026, 12, 6, 15, 4, 5))
    assert headers["X-Amz-Date"] == "20261206T150405Z"
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AKID}/20261206/{region}/{service}/"
                                               "aws4_request, SignedHeaders=host;x-amz-date")
    assert headers["Authorization"].endswith(
        "Signature=" + botocore_signature("GET", host, path, region, service, key, headers["X-Amz-Date"]))
    assert headers.get("X-Amz-Security-Token") == token
    assert SECRET not in str(headers)


def test_another_secret_signs_differently():
    now = datetime(2026, 12, 6, 15, 4, 5)
    one = sign("GET", "polly.us-east-1.amazonaws.com", "/v1/voices", "us-east-1", "polly", AwsKey(AKID, SECRET), now)
    two = sign("GET", "polly.us-east-1.amazonaws.com", "/v1/voices", "us-east-1", "polly", AwsKey(AKID, SECRET + "x"),
               now)
    assert one["Authorization"] != two["Authorization"]


@pytest.mark.parametrize("given", [
    {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET, "aws_session_token": TOKEN, "region_name": "eu-west-3"},
    {"access_key_id": AKID, "secret_access_key": SECRET, "session_token": TOKEN, "region": "eu-west-3"},
], ids=["boto3-names", "short-names"])
def test_credentials_as_a_dict(given):
    assert aws_key(given) == AwsKey(AKID, SECRET, TOKEN, "eu-west-3")


def test_botocores_frozen_credentials_are_read_and_a_refreshable_object_is_not():
    """A refreshable Credentials object may refresh over the network when read; report() never does I/O."""
    assert aws_key(ReadOnlyCredentials(AKID, SECRET, None)) == AwsKey(AKID, SECRET)
    assert aws_key(Credentials(AKID, SECRET)) is None
    assert aws_key(Credentials(AKID, SECRET).get_frozen_credentials()) == AwsKey(AKID, SECRET)


@pytest.mark.parametrize("given", [
    None, "AKIA...", 42, {"aws_access_key_id": AKID}, {"aws_secret_access_key": SECRET},
    {"aws_access_key_id": "not an id", "aws_secret_access_key": SECRET},
    {"aws_access_key_id": AKID, "aws_secret_access_key": ""}, (AKID, SECRET),
])
def test_anything_else_is_not_aws_credentials(given):
    assert aws_key(given) is None


def test_the_secret_and_token_never_show_in_a_repr():
    key = AwsKey(AKID, SECRET, TOKEN, "us-east-1")
    for text in (repr(key), str(key), f"{key}", repr([key]), repr({"k": key})):
        assert SECRET not in text and TOKEN not in text and AKID in text


def test_temporary_credentials_without_their_token_are_known():
    assert AwsKey("ASIAIOSFODNN7EXAMPLE", SECRET).temporary_without_token
    assert not AwsKey("ASIAIOSFODNN7EXAMPLE", SECRET, TOKEN).temporary_without_token
    assert not AwsKey(AKID, SECRET).temporary_without_token
