"""The SCIM 2.0 discovery documents (RFC 7643 sections 5-7) for the User resource we accept.

These definitions are also the rule for what is stored: an attribute not announced here is not
kept (``scim_resource.clean``) and a PATCH path outside them is refused (``scim_patch``). There
is deliberately no ``password``: Accessward never needs one, so it is never stored or returned.
"""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_RESULTS = 200


def _attr(name: str, type_: str = "string", *, required: bool = False, multi: bool = False,
          case_exact: bool = False, uniqueness: str = "none", mutability: str = "readWrite",
          sub: list[dict[str, Any]] | None = None, description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_, "multiValued": multi, "description": description,
                           "required": required, "caseExact": case_exact, "mutability": mutability,
                           "returned": "default", "uniqueness": uniqueness}
    if sub is not None:
        out["subAttributes"] = sub
    return out


USER_ATTRIBUTES = [
    _attr("userName", required=True, uniqueness="server", description="The sign-in name (UPN or email)"),
    _attr("name", "complex", sub=[_attr(n) for n in ("formatted", "familyName", "givenName", "middleName")]),
    _attr("displayName"),
    _attr("title"),
    _attr("active", "boolean", description="false (or DELETE) starts an offboarding of the person; once "
          "deprovisioned, only an explicit true (recorded, re-granting nothing) turns it back"),
    _attr("emails", "complex", multi=True, sub=[_attr("value"), _attr("type"), _attr("primary", "boolean")]),
    _attr("externalId", case_exact=True),
]
ENTERPRISE_ATTRIBUTES = [_attr("employeeNumber"), _attr("department"), _attr("organization"),
                         _attr("manager", "complex", sub=[_attr("value"), _attr("displayName")])]


def _schema(schema_id: str, name: str, attributes: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": schema_id, "name": name,
            "description": name, "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema_id}"}}


def schemas(base: str) -> list[dict[str, Any]]:
    return [_schema(USER_SCHEMA, "User", USER_ATTRIBUTES, base),
            _schema(ENTERPRISE_SCHEMA, "EnterpriseUser", ENTERPRISE_ATTRIBUTES, base)]


def resource_types(base: str) -> list[dict[str, Any]]:
    return [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
             "endpoint": "/Users", "description": "People the identity provider provisions",
             "schema": USER_SCHEMA, "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
             "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"}}]


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": f"{base.rsplit('/scim/', 1)[0]}/docs",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
                                   "description": "An Accessward API token with the hr role"}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def error(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body
