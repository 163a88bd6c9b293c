"""Authlib's endpoints and grants as the test provider (tests/rfc8628_provider.py) configures them.

Each class is Authlib's, with only the storage hooks filled in (``self.server`` is the provider);
the provider subclasses them again per instance to set the client authentication methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict
from authlib.oidc.core import UserInfo, UserInfoEndpoint

from rfc8628_models import ALL_AUTH_METHODS, Client, Issued

if TYPE_CHECKING:
    from rfc8628_provider import Provider


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    INTERVAL = 1  # seconds; RFC 8628 lets the server choose (Authlib's default is 5)

    def get_verification_uri(self) -> str:
        return self.server.base_url + "/device"

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        self.server.save_device(client_id, scope, data)


class DeviceGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """RFC 8628 §3.5 token response; in OpenID mode with an ``id_token`` (OIDC Core §3.1.3.3)."""
        status, token, headers = super().create_token_response()
        if self.server.openid and "openid" in scope_to_list(token.get("scope")):
            token["id_token"] = self.server.id_token_for(self.request.user, self.request.client.get_client_id())
        return status, token, headers

    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        return self.server.devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
        return self.server.decisions.get(user_code)

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        return self.server.take_slow_down(credential)


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Issued | None:
        found = self.server.find(refresh_token, "refresh_token")
        return found if found is not None and not found.revoked else None

    def authenticate_user(self, refresh_token: Issued) -> str:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Issued) -> None:
        refresh_token.revoked = True


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        return self.server.find(token_string, token_type_hint)

    def revoke_token(self, token: Issued, request: Any) -> None:
        token.revoked = True


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # RFC 7662 §2.1: authenticated only

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        return self.server.find(token_string, token_type_hint)

    def check_permission(self, token: Issued, client: Client, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: Issued) -> dict[str, Any]:
        return {"active": True, "client_id": token.client_id, "username": token.user, "scope": token.scope,
                "token_type": "Bearer", "exp": int(token.issued_at + token.expires_in), "iat": int(token.issued_at)}


class BearerValidator(BearerTokenValidator):
    """RFC 6750 bearer tokens at UserInfo: the provider's own access tokens."""

    def __init__(self, server: Provider) -> None:
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string: str) -> Issued | None:
        return self.server.find(token_string, "access_token")


class ProviderUserInfo(UserInfoEndpoint):
    """OpenID Connect Core §5.3 UserInfo: ``email`` here, never in the ID token (the provider's mode d)."""

    def get_issuer(self) -> str:
        return self.server.base_url

    def generate_user_info(self, user: str, scope: str) -> UserInfo:
        return UserInfo(sub=user.split("@")[0], email=user, preferred_username=user.split("@")[0])


class Protector:
    """What Authlib's UserInfoEndpoint asks for (Flask's ``acquire_token``), over one request."""

    def __init__(self, protector: ResourceProtector, request: OAuth2Request) -> None:
        self.protector, self.request = protector, request

    def acquire_token(self, scope: str) -> Issued:
        return self.protector.validate_request([scope], self.request)
