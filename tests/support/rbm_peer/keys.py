"""Service-account keys and the JWT-bearer grant of the RBM peer's token endpoint.

A key is minted as Google writes it (a JSON file with an RSA private key in PKCS#8 PEM),
and an assertion is checked as Google's token endpoint documents it: an RS256 JWT whose
`iss` is the account's e-mail, `aud` Google's token endpoint (or the key's `token_uri`),
`scope` space-delimited, and `exp` at most one hour after `iat`. Failures are
`GrantError`s carrying the OAuth error code and description Google answers with.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "GOOGLE_TOKEN_AUDIENCE",
    "JWT_BEARER",
    "MAX_ASSERTION_LIFETIME",
    "GrantError",
    "ServiceAccount",
    "sign_jwt",
    "verify_assertion",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# the documented audience of every assertion, whatever host the token request goes to
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
MAX_ASSERTION_LIFETIME = 3600  # seconds between iat and exp, as Google documents
CLOCK_SKEW = 300  # seconds of clock difference tolerated on iat and exp (an assumption)
TIMEFRAME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


class GrantError(Exception):
    """A refused token request: the OAuth `error` code and Google's description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _shared_key() -> rsa.RSAPrivateKey:
    return _new_key()


@dataclass
class ServiceAccount:
    """A minted service account: its key pair and the JSON Google would hand out."""

    project_id: str
    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey
    token_uri: str

    @classmethod
    def mint(
        cls, token_uri: str, project_id: str = "opencomms-test", fresh_key: bool = False
    ) -> ServiceAccount:
        """A new account; its RSA key is the process's shared one unless `fresh_key`
        (a 2048-bit key takes a while to generate)."""
        name = f"rbm-{secrets.token_hex(3)}"
        return cls(
            project_id=project_id,
            client_email=f"{name}@{project_id}.iam.gserviceaccount.com",
            private_key_id=secrets.token_hex(20),
            private_key=_new_key() if fresh_key else _shared_key(),
            token_uri=token_uri,
        )

    def info(self) -> dict[str, str]:
        """The key file's content, in Google's format."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": str(secrets.randbelow(10**21)).zfill(21),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.info(), indent=2))
        path.chmod(0o600)
        return path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(
    key: rsa.RSAPrivateKey, claims: dict[str, Any], header: dict[str, Any] | None = None
) -> str:
    """An RS256 JWT of `claims` (for the peer's own tests and forged assertions)."""
    head = {"alg": "RS256", "typ": "JWT", **(header or {})}
    signing_input = f"{_b64url(json.dumps(head).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _parse(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise GrantError("invalid_grant", "Invalid JWT: not a compact JWS (three parts).")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, binascii.Error) as error:
        raise GrantError("invalid_grant", "Invalid JWT: undecodable part.") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise GrantError("invalid_grant", "Invalid JWT: header and claims must be objects.")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _check_signature(
    account: ServiceAccount, header: dict[str, Any], signed: bytes, signature: bytes
) -> None:
    if header.get("alg") != "RS256":
        raise GrantError("invalid_grant", "Invalid JWT: the algorithm must be RS256.")
    kid = header.get("kid")
    if kid is not None and kid != account.private_key_id:
        raise GrantError("invalid_grant", "Invalid JWT Signature.")
    try:
        account.private_key.public_key().verify(
            signature, signed, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as error:
        raise GrantError("invalid_grant", "Invalid JWT Signature.") from error


def _check_times(claims: dict[str, Any], now: float) -> None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise GrantError("invalid_grant", TIMEFRAME)
    if exp <= iat or exp - iat > MAX_ASSERTION_LIFETIME:
        raise GrantError("invalid_grant", TIMEFRAME)
    if iat > now + CLOCK_SKEW or exp < now - CLOCK_SKEW:
        raise GrantError("invalid_grant", TIMEFRAME)


def verify_assertion(
    assertion: str, accounts: dict[str, ServiceAccount], token_uri: str, now: float
) -> tuple[ServiceAccount, list[str]]:
    """The account that signed `assertion` and the scopes it asks for; `GrantError` if
    the token endpoint would refuse it."""
    header, claims, signed, signature = _parse(assertion)
    account = accounts.get(str(claims.get("iss")))
    if account is None:
        raise GrantError("invalid_grant", "Invalid grant: account not found")
    _check_signature(account, header, signed, signature)
    if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, token_uri):
        raise GrantError(
            "invalid_grant",
            f'Invalid JWT: Failed audience check. The right audience is "{GOOGLE_TOKEN_AUDIENCE}".',
        )
    _check_times(claims, now)
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.split():
        raise GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return account, scope.split()
