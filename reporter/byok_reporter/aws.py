"""AWS credentials for a probe, and Signature Version 4 with the standard library only.

A backend that calls Bedrock or Polly with a user's AWS account holds an access key pair (and a
session token when the credentials are temporary), not one string. The reporter takes them as
boto3 names them (a dict) or as botocore's frozen credentials, and signs its one probe itself,
so it needs no AWS SDK. The secret never leaves this module except as an HMAC signature.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote

__all__ = ["AwsKey", "aws_key", "sign"]

_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
_NAMES = (("aws_access_key_id", "access_key_id", "access_key"),
          ("aws_secret_access_key", "secret_access_key", "secret_key"),
          ("aws_session_token", "session_token", "token"),
          ("region_name", "region"))


@dataclass(frozen=True)
class AwsKey:
    """One AWS credential set. Its repr shows the access key id only (never the secret or token)."""
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None

    @property
    def temporary_without_token(self) -> bool:
        """An STS key (ASIA...) that came without its session token: AWS refuses it for that
        reason alone, so a probe with it would call a working key broken."""
        return self.access_key_id.startswith("ASIA") and not self.session_token


def _first(get: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = get(name)
        if value:
            return value
    return None


def aws_key(value: Any) -> AwsKey | None:
    """The AWS credentials in a `key=`: a dict with boto3's names (aws_access_key_id,
    aws_secret_access_key, aws_session_token, region_name) or the short ones, or botocore's
    ReadOnlyCredentials (access_key, secret_key, token). None for anything else. A refreshable
    botocore Credentials object is not read: its attributes may refresh over the network, and
    report() never does I/O (pass `credentials.get_frozen_credentials()`)."""
    if isinstance(value, AwsKey):
        return value
    if isinstance(value, Mapping):
        get = value.get
    elif isinstance(value, tuple) and hasattr(value, "_fields"):
        def get(name: str) -> Any:
            return getattr(value, name, None)
    else:
        return None
    akid, secret, token, region = (_first(get, names) for names in _NAMES)
    if not (isinstance(akid, str) and _ACCESS_KEY_ID.fullmatch(akid) and isinstance(secret, str) and secret):
        return None
    return AwsKey(akid, secret, token if isinstance(token, str) else None,
                  region if isinstance(region, str) else None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sign(method: str, host: str, path_and_query: str, region: str, service: str, key: AwsKey,
         now: datetime) -> dict[str, str]:
    """The headers that sign a request with no body (AWS Signature Version 4): Authorization,
    X-Amz-Date and, for temporary credentials, X-Amz-Security-Token. `host` is the Host header's
    value (with the port when it is not the default); `now` is in UTC."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    path, _, query = path_and_query.partition("?")
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(parse_qsl(query, keep_blank_values=True)))
    headers = {"host": host, "x-amz-date": amz_date}
    if key.session_token:
        headers["x-amz-security-token"] = key.session_token
    signed = ";".join(sorted(headers))
    canonical_request = "\n".join([
        method, quote(path or "/", safe="/-_.~"), canonical_query,
        "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers)), signed,
        hashlib.sha256(b"").hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    signing_key = _hmac(("AWS4" + key.secret_access_key).encode("utf-8"), amz_date[:8])
    for part in (region, service, "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out = {"Authorization": f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/{scope}, "
                            f"SignedHeaders={signed}, Signature={signature}",
           "X-Amz-Date": amz_date}
    if key.session_token:
        out["X-Amz-Security-Token"] = key.session_token
    return out
