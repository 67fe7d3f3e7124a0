"""An independent SCIM 2.0 client (PyPI scim2-client, scim2-models) against
Selfserve's /scim2/Me, as a script holding a signed-in browser's session.

The client first discovers the service (RFC 7644 §4: its configuration,
resource types and schemas). Every answer of /Me is then read by
scim2-client, which checks its status, content type and payload against
RFC 7643's User and enterprise extension as scim2-models defines them, and
the final one against the schemas the service published too. A PatchOp is
applied by scim2-models to the client's own copy, and the server's answer
must agree with it. Exits non-zero on the first disagreement; on
success prints the final resource as JSON for the caller to compare with
what the profile page shows.

    SCIM_COOKIE=selfserve_session=... python client.py BASE_URL ORIGIN USERNAME

ORIGIN is that of the pages the script runs on (Selfserve's public URL),
sent on every request: the server refuses other sites' changes. The
session cookie comes in the environment, not the command line, where other
local users could read it.
"""

import copy
import json
import os
import sys

import httpx2
from scim2_client import Me
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    EnterpriseUser,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    PatchOperation,
    PreconditionFailedException,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    User,
)

base_url, origin, username = sys.argv[1:4]
cookie = os.environ["SCIM_COOKIE"]
Resource = User[EnterpriseUser]
DEPARTMENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"

http = httpx2.Client(
    base_url=f"{base_url}/scim2",
    headers={"Cookie": cookie, "Origin": origin},
)


def check(condition, what):
    if not condition:
        sys.exit(f"scim client: {what}")


# Discovery: what the service says it supports and serves.
discovered = SyncSCIMClient(http)
discovered.discover()
config = discovered.provider.config
check(config.patch.supported and config.etag.supported, f"PATCH and ETags: {config!r}")
check(not config.filter.supported and not config.bulk.supported, f"no /Users: {config!r}")
endpoints = [t.endpoint for t in discovered.provider.resource_types]
check(endpoints == ["/Me"], f"resource types at {endpoints!r}")

# The rest with RFC 7643's models, not the service's own description.
scim = SyncSCIMClient(
    http,
    provider=ScimProvider(
        models=[User, EnterpriseUser],
        resource_types=[ResourceType.from_resource(Resource)],
        config=config,
    ),
)

def writable(user):
    """What a user may change, as plain JSON, elements in a stable order.
    name.formatted is left out: Selfserve derives it from the given and
    family names."""
    data = user.model_dump(
        exclude={"meta", "id", "roles", "schemas", "user_name"}, exclude_none=True
    )
    data.get("name", {}).pop("formatted", None)
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = sorted(value, key=lambda e: json.dumps(e, sort_keys=True))
    return data


me = scim.query(Me)
check(isinstance(me, Resource), f"GET /Me is not a User: {me!r}")
check(me.user_name == username, f"userName {me.user_name!r}, expected {username!r}")
check(me.id and me.meta and me.meta.version, f"no id or version: {me!r}")

# PUT: the whole profile, made conditional on the version just read.
wanted = Resource(
    user_name=username,
    name={"givenName": "Ada", "familyName": "Lovelace"},
    emails=[{"value": "ada@example.com", "type": "work", "primary": True}],
    phone_numbers=[
        {"value": "+442079460000", "type": "work"},
        {"value": "+447911123456", "type": "mobile"},
    ],
    ims=[{"value": "ada@im.example"}],
    profile_url="https://ada.example.com",
    addresses=[{"country": "GB", "type": "work", "primary": True}],
)
wanted[EnterpriseUser] = EnterpriseUser(
    organization="Analytical Engines", department="Mathematics"
)
replaced = scim.replace(Me, wanted, headers={"If-Match": me.meta.version})
check(isinstance(replaced, Resource), f"PUT answered {replaced!r}")
check(replaced.meta.version != me.meta.version, "PUT left the version as it was")
def holds(answered, sent):
    """Whether the answer holds everything sent; the server may add what it
    derives (name.formatted, primary on the one element of a list)."""
    if isinstance(sent, dict):
        return isinstance(answered, dict) and all(
            holds(answered.get(k), v) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return isinstance(answered, list) and len(answered) == len(sent) and all(
            holds(a, s) for a, s in zip(answered, sent)
        )
    return answered == sent


sent, answered = writable(wanted), writable(replaced)
check(holds(answered, sent), f"PUT: the server answered {answered!r}, sent {sent!r}")

# PATCH: the server's result must be what scim2-models makes of the same
# operations on the client's copy.
patch = PatchOp[Resource](
    operations=[
        PatchOperation[Resource](op="replace", path="name.givenName", value="Grace"),
        PatchOperation[Resource](
            op="replace", path='phoneNumbers[type eq "mobile"].value', value="+447911123457"
        ),
        PatchOperation[Resource](op="remove", path="ims"),
        PatchOperation[Resource](op="replace", path=DEPARTMENT, value="Compilers"),
    ]
)
expected = copy.deepcopy(replaced)
patch.patch(expected)
patched = scim.modify(Me, patch, headers={"If-Match": replaced.meta.version})
check(isinstance(patched, Resource), f"PATCH answered {patched!r}")
check(
    writable(patched) == writable(expected),
    f"PATCH: the server made {writable(patched)!r}, scim2-models {writable(expected)!r}",
)

# Holding the current version, a read answers 304 and nothing (RFC 7644 §3.14).
unchanged = scim.query(Me, headers={"If-None-Match": patched.meta.version})
check(unchanged is None, f"If-None-Match with the current version: {unchanged!r}")

# Only the attributes asked for (RFC 7644 §3.4.2.5).
narrow = scim.query(
    Me, query_parameters=ResponseParameters[Resource](attributes=["name.givenName"])
)
check(narrow.name and narrow.name.given_name == "Grace", f"attributes: {narrow!r}")
check(narrow.emails is None and narrow.phone_numbers is None, f"attributes: {narrow!r}")

# Refusals are SCIM errors that change nothing.
def refused(exception, send):
    try:
        answer = send()
    except exception as error:
        return error
    sys.exit(f"scim client: expected {exception.__name__}, the server answered {answer!r}")

bad_email = PatchOp[Resource](
    operations=[
        PatchOperation[Resource](op="replace", path="name.familyName", value="Hopper"),
        PatchOperation[Resource](
            op="replace", path='emails[type eq "work"].value', value="grace-at-example"
        ),
    ]
)
error = refused(InvalidValueException, lambda: scim.modify(Me, bad_email))
check("email" in str(error.detail), f"the error does not name the email: {error.detail!r}")
refused(
    PreconditionFailedException,
    lambda: scim.modify(Me, patch, headers={"If-Match": me.meta.version}),
)
other_name = copy.deepcopy(patched)
other_name.user_name = username + "-renamed"
refused(MutabilityException, lambda: scim.replace(Me, other_name))
after = scim.query(Me)
check(
    after.meta.version == patched.meta.version and after.name.family_name == "Lovelace",
    f"a refused request changed the profile: {after!r}",
)

# The service's own schemas describe what it answers.
described = discovered.query(Me)
check(
    described.model_dump(exclude_none=True) == after.model_dump(exclude_none=True),
    f"read with the published schemas: {described!r}, with RFC 7643's: {after!r}",
)

print(after.model_dump_json(exclude_none=True))
