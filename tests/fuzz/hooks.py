"""Schemathesis hooks for the API fuzz run (tests/tests/api_fuzz.rs).

Every generated request is authenticated the way docs/PROTOCOL.md says (sections 4 and 5): an
access token (or a consent token) from `POST /v1/token`, obtained with an Ed25519 client
assertion (RFC 7523) and bound to the key by a DPoP proof (RFC 9449), then
`Authorization: DPoP <token>` and a fresh `DPoP` proof on each request, made when the request is
sent (so a replayed or retried case still carries a proof of its own).

The identities and the ids of real objects come from a JSON file written by the Rust test, named
by `WP_FUZZ_CONFIG`:

    {"base_url": "http://127.0.0.1:PORT",
     "identities": {"owner": {"party_id": ..., "jwk": {private OKP JWK}}, "employer": {...,
                    "grant_id": ...}, ...},
     "ids": {"pid": [...], "rid": [...], "party_id": [...], "kid": [...], "gid": [...]},
     "victim_pid": ..., "protected_gids": [...], "example_bodies": {section: body}}

Identities: `owner` (an employee with a passport and records), `victim` (an employee whose
passport the fuzzer may erase: `DELETE /v1/passports/{pid}` always runs as the victim, so the
owner's passport survives the run), `admin`, and grantees (`employer`, `professional`) that use a
consent token for their grant on the owner's passport.

To get past the first refusal, some generated values are replaced when the request is sent (in
`before_call`): path parameters by real ids, and half of the time the body of a write by a version
signed by the caller, of a token request by a valid assertion, of a grant by a real grantee and a
plausible end. Two checks of our own: `problem_type_conformance` (a problem's `type` is one the
document lists for that status) and `no_undocumented_response_members`.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import hashlib
import json
import os
import random
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

CONFIG = json.loads(open(os.environ["WP_FUZZ_CONFIG"], encoding="utf-8").read())
# The hooks' own choices (which identity sends a request) follow the run's seed
# (tests/tests/api_fuzz.rs passes the one it gives Schemathesis), so that a run repeats.
random.seed(os.environ.get("WP_FUZZ_SEED"))
BASE = CONFIG["base_url"].rstrip("/")
IDS: dict[str, list[str]] = CONFIG["ids"]
VICTIM_PID: str = CONFIG["victim_pid"]
# Grants the grantee identities need for the whole run: never revoked by a generated request.
PROTECTED_GIDS: set[str] = set(CONFIG["protected_gids"])
SACRIFICIAL_GIDS: list[str] = [g for g in IDS.get("gid", []) if g not in PROTECTED_GIDS]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def compact_jws(key: Ed25519PrivateKey, header: dict, claims: dict) -> str:
    signing_input = (
        b64u(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64u(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64u(key.sign(signing_input.encode("ascii")))


class Identity:
    """A party: its key, its id, and (for a grantee) the grant its consent token is for."""

    def __init__(self, name: str, spec: dict):
        self.name = name
        self.party_id: str = spec["party_id"]
        self.grant_id: str | None = spec.get("grant_id")
        jwk = spec["jwk"]
        self.key = Ed25519PrivateKey.from_private_bytes(b64u_decode(jwk["d"]))
        self.x: str = jwk["x"]
        thumbprint_input = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self.x}, separators=(",", ":")
        )
        self.kid = b64u(hashlib.sha256(thumbprint_input.encode()).digest())
        self.public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid}
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def dpop(self, method: str, htu: str, token: str | None) -> str:
        """A fresh DPoP proof (RFC 9449 section 4.2), as PROTOCOL.md section 5 says."""
        claims = {"jti": str(uuid.uuid4()), "htm": method.upper(), "htu": htu, "iat": int(time.time())}
        if token is not None:
            claims["ath"] = b64u(hashlib.sha256(token.encode("ascii")).digest())
        return compact_jws(self.key, {"alg": "EdDSA", "typ": "dpop+jwt", "jwk": self.public_jwk}, claims)

    def token(self) -> str:
        """An access token (or consent token), fetched again a minute before it expires."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + max(lifetime - 60, 10)
            return self._token

    def assertion(self) -> str:
        """A client assertion (RFC 7523), as PROTOCOL.md section 4.2 says."""
        now = int(time.time())
        return compact_jws(
            self.key,
            {"alg": "EdDSA", "typ": "JWT", "kid": self.kid},
            {
                "iss": self.party_id,
                "sub": self.party_id,
                "aud": BASE + "/v1/token",
                "iat": now,
                "exp": now + 120,
                "jti": str(uuid.uuid4()),
            },
        )

    def _fetch(self) -> tuple[str, int]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }
        if self.grant_id is not None:
            form["grant_id"] = self.grant_id
        response = requests.post(
            BASE + "/v1/token",
            data=form,
            headers={"DPoP": self.dpop("POST", BASE + "/v1/token", None)},
            timeout=10,
        )
        if response.status_code != 200:
            raise RuntimeError(f"token for {self.name}: {response.status_code} {response.text}")
        body = response.json()
        return body["access_token"], int(body["expires_in"])


IDENTITIES = {name: Identity(name, spec) for name, spec in CONFIG["identities"].items()}
GRANTEES = [i for i in IDENTITIES.values() if i.grant_id is not None]


class DPoPRequestAuth(requests.auth.AuthBase):
    """Sets `Authorization` and a proof made for the request as it is sent: `htm` its method and
    `htu` the base URL and its path exactly as sent (percent-encoded, no query, no fragment)."""

    def __init__(self, identity: Identity, token: str, proof: bool = True):
        self.identity = identity
        self.token = token
        self.proof = proof

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url)
        htu = BASE + urlunsplit(("", "", parts.path, "", ""))
        request.headers["Authorization"] = f"DPoP {self.token}"
        if self.proof:
            request.headers["DPoP"] = self.identity.dpop(request.method, htu, self.token)
        return request


def identity_for(method: str, path: str) -> Identity:
    """Who sends a request to `method path` (a path template)."""
    if method == "DELETE" and path == "/v1/passports/{pid}":
        return IDENTITIES["victim"]
    if path.startswith("/v1/admin/"):
        # Mostly the admin, sometimes a party that is refused.
        return IDENTITIES["admin"] if random.random() < 0.8 else IDENTITIES["owner"]
    roll = random.random()
    if GRANTEES and roll < 0.3:
        return random.choice(GRANTEES)
    if roll < 0.4:
        return IDENTITIES["admin"]
    return IDENTITIES["owner"]


# Tokens are cached per identity by `Identity.token`, which knows their lifetime; Schemathesis's
# own cache (one entry, fixed interval) would hand every request the same identity.
@schemathesis.auth(refresh_interval=None)
class WorkPassportDPoP:
    def get(self, case, context):
        identity = identity_for(case.method.upper(), case.operation.path)
        return identity, identity.token()

    def set(self, case, data, context):
        identity, token = data
        # A negative case about the headers (the `DPoP` header parameter missing or malformed)
        # is sent as generated, so that the server's refusal is what is checked.
        headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
        negative_headers = headers is not None and headers.mode.is_negative
        case._auth = DPoPRequestAuth(identity, token, proof=not negative_headers)
        # For the reproduction commands in the report (the proof there is made at send time).
        case.headers = {**(case.headers or {}), "Authorization": f"DPoP {token}"}


def real_values(name: str, method: str, path: str) -> list[str]:
    if name == "pid" and method == "DELETE" and path == "/v1/passports/{pid}":
        return [VICTIM_PID]
    if name == "gid" and path.endswith("/revoke"):
        return SACRIFICIAL_GIDS
    return IDS.get(name, [])


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Mostly, each path parameter names a real object, so that requests get past the
    404 and reach the handlers' own checks."""
    operation = context.operation
    strategies = {}
    for name, value in (path_parameters or {}).items():
        real = real_values(name, operation.method.upper(), operation.path)
        if real:
            # Three times in four a real id; otherwise what Schemathesis generated.
            strategies[name] = st.integers(0, 3).flatmap(
                lambda i, value=value, real=real: st.just(value) if i == 0 else st.sampled_from(real)
            )
        else:
            strategies[name] = st.just(value)
    return st.fixed_dictionaries(strategies)


@schemathesis.hook
def before_call(context, case, kwargs):
    method, path = case.method.upper(), case.operation.path
    if method == "POST" and path == "/v1/token":
        signed_token_request(case)
    params = case.path_parameters
    if not params:
        return
    meta = case.meta
    # The coverage phase builds its cases without the `flatmap_path_parameters` hook: give its
    # path parameters real ids as often, except the one a negative case is about.
    if meta is not None and meta.phase.name == "coverage":
        mutated = meta.phase.data.parameter
        for name in list(params):
            real = real_values(name, method, path)
            if name != mutated and real and random.random() < 0.75:
                params[name] = random.choice(real)
    # Stateful links may feed a grant id from a response into the revoke operation: never revoke
    # the grants the grantee identities need (their consent tokens would stop working).
    if path.endswith("/grants/{gid}/revoke") and params.get("gid") in PROTECTED_GIDS and SACRIFICIAL_GIDS:
        params["gid"] = random.choice(SACRIFICIAL_GIDS)
    if method == "POST" and path == "/v1/passports/{pid}/grants":
        plausible_grant(case)
    if method == "POST" and path in ("/v1/passports/{pid}/records", "/v1/passports/{pid}/records/{rid}/versions"):
        signed_write(case)


@schemathesis.check
def problem_type_conformance(ctx, response, case):
    """A problem answer names a problem type its status documents: the document lists them per
    operation and status as `x-problem-types`; `status` in the body is the HTTP status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type") or response.headers.get("Content-Type")
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else None
    if not content_type or not content_type.startswith("application/problem+json"):
        return None
    raw = case.operation.schema.raw_schema
    documented = (
        raw["paths"]
        .get(case.operation.path, {})
        .get(case.method.lower(), {})
        .get("responses", {})
        .get(str(response.status_code))
    )
    if documented is None:
        return None  # status_code_conformance reports it
    problem = response.json()
    allowed = documented.get("x-problem-types")
    if allowed is not None and problem.get("type") not in allowed:
        raise AssertionError(
            f"problem type {problem.get('type')!r} is not one the document lists for "
            f"{response.status_code} on {case.method.upper()} {case.operation.path}: {allowed}"
        )
    if problem.get("status") != response.status_code:
        raise AssertionError(
            f"problem status {problem.get('status')!r} differs from the HTTP status {response.status_code}"
        )
    return True


def _resolve(raw: dict, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = raw
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _undocumented(raw: dict, schema, value, where: str, found: list[str]) -> None:
    """Members of `value` that no (sub)schema names, where the schema does not say what other
    members may be (Schemathesis accepts them: JSON Schema allows extra members by default)."""
    schema = _resolve(raw, schema)
    if not isinstance(schema, dict):
        return
    branches = [_resolve(raw, b) for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, [])]
    if isinstance(value, dict):
        named: dict = dict(schema.get("properties", {}))
        open_ended = "additionalProperties" in schema
        for branch in branches:
            if isinstance(branch, dict):
                named.update(branch.get("properties", {}))
                open_ended = open_ended or "additionalProperties" in branch
        if not named and not open_ended and not schema.get("type") == "object":
            return
        for member, member_value in value.items():
            if member in named:
                _undocumented(raw, named[member], member_value, f"{where}.{member}", found)
            elif not open_ended:
                found.append(f"{where}.{member}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _undocumented(raw, schema["additionalProperties"], member_value, f"{where}.{member}", found)
    elif isinstance(value, list):
        items = schema.get("items")
        for branch in branches:
            if isinstance(branch, dict) and "items" in branch:
                items = branch["items"]
        if items is not None:
            for i, item in enumerate(value):
                _undocumented(raw, items, item, f"{where}[{i}]", found)


@schemathesis.check
def no_undocumented_response_members(ctx, response, case):
    """Every member of a JSON answer is named in the document (a client generated from it must
    see every member the server sends)."""
    raw = case.operation.schema.raw_schema
    documented = (
        raw["paths"].get(case.operation.path, {}).get(case.method.lower(), {}).get("responses", {})
    ).get(str(response.status_code))
    if documented is None or not response.content:
        return None
    content = _resolve(raw, documented).get("content", {})
    content_type = (response.headers.get("content-type") or [""])
    content_type = (content_type[0] if isinstance(content_type, list) else content_type).split(";")[0]
    if content_type not in content or "json" not in content_type:
        return None
    found: list[str] = []
    _undocumented(raw, content[content_type].get("schema", {}), response.json(), "$", found)
    if found:
        raise AssertionError(f"members the document does not name: {', '.join(found[:10])}")
    return True


# Which status codes each operation got, written when the run ends to `WP_FUZZ_STATS` (if set):
# the Rust test prints it, to show how far the generated requests got.
STATS: dict[str, dict[int, int]] = {}
STATS_LOCK = threading.Lock()


@schemathesis.hook
def after_call(context, case, response):
    key = f"{case.method.upper()} {case.operation.path}"
    with STATS_LOCK:
        counts = STATS.setdefault(key, {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1


def _write_stats() -> None:
    path = os.environ.get("WP_FUZZ_STATS")
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with STATS_LOCK, open(path, "w", encoding="utf-8") as out:
            for key in sorted(STATS, key=lambda k: k.split(" ", 1)[::-1]):
                counts = " ".join(f"{code}x{n}" for code, n in sorted(STATS[key].items()))
                out.write(f"{key}: {counts}\n")


atexit.register(_write_stats)


# Signed writes. A generated `{"jws": "..."}` is refused before anything interesting happens;
# half of the time the body of a write is replaced, when it is sent, by a version signed by the
# caller: version 1 of a new record, or the successor of the record's current head (sometimes a
# stale one, for a 409 with `current_head`, sometimes a tombstone), with a section body that is
# valid or has one member broken.
EXAMPLE_BODIES: dict[str, dict] = CONFIG["example_bodies"]
ODD_VALUES = [
    "", " ", "\u0085", "\ufeff", "\u200b", "\u0000", "x" * 20000, "2023-1-5", "2023-02-30",
    "9999-12-31", "0000-01-01", None, 0, -1, 2**63, 1e308, True, [], {}, ["x"], {"x": 1},
]


def broken(body: dict) -> dict:
    body = json.loads(json.dumps(body))
    roll = random.random()
    if roll < 0.4:
        return body
    if roll < 0.5:
        body["unknown_member"] = "x"
    elif roll < 0.6 and body:
        del body[random.choice(list(body))]
    elif body:
        body[random.choice(list(body))] = random.choice(ODD_VALUES)
    return body


def version_jws(identity: Identity, payload: dict) -> str:
    return compact_jws(identity.key, {"alg": "EdDSA", "typ": "wp-version+jws", "kid": identity.kid}, payload)


def current_head(identity: Identity, token: str, pid: str, rid: str) -> dict | None:
    url = f"{BASE}/v1/passports/{pid}/records/{rid}"
    response = requests.get(
        url,
        headers={"Authorization": f"DPoP {token}", "DPoP": identity.dpop("GET", url, token)},
        timeout=10,
    )
    return response.json() if response.status_code == 200 else None


def payload_of(jws: str) -> dict:
    return json.loads(b64u_decode(jws.split(".")[1]))


def signed_write(case) -> None:
    auth = case._auth
    params = case.path_parameters or {}
    if not isinstance(auth, DPoPRequestAuth) or not isinstance(case.body, dict) or random.random() < 0.5:
        return
    identity, pid = auth.identity, params.get("pid")
    payload = {"passport": pid, "author": identity.party_id, "iat": int(time.time())}
    if case.operation.path == "/v1/passports/{pid}/records":
        section = random.choice(list(EXAMPLE_BODIES))
        payload.update(record=str(uuid.uuid4()), section=section, version=1, body=broken(EXAMPLE_BODIES[section]))
    else:
        rid = params.get("rid")
        head = current_head(identity, auth.token, pid, rid)
        if head is None:
            return
        previous = payload_of(head["jws"])
        payload.update(record=rid, section=head["section"], version=head["version"] + 1, prev=head["hash"])
        roll = random.random()
        if roll < 0.1:
            payload["deleted"] = True
        else:
            body = previous.get("body") or EXAMPLE_BODIES[head["section"]]
            if head["section"] == "adjustments" and roll < 0.3:
                body = {**body, "status": "agreed", "agreed_by": "Acme Ltd HR"}
            payload["body"] = broken(body)
        if roll > 0.85 and head["version"] > 1:
            # A stale write: the head's own version number and predecessor.
            payload.update(version=head["version"], prev=previous.get("prev"))
    case.body = {"jws": version_jws(identity, payload)}


def signed_token_request(case) -> None:
    """Half of the time, a token request carries a valid assertion by the key that signs its DPoP
    proof, for an access token or a consent token (for any of the grants, revoked ones too)."""
    auth = case._auth
    if not isinstance(auth, DPoPRequestAuth) or not isinstance(case.body, dict) or random.random() < 0.5:
        return
    body = dict(case.body)
    body["client_assertion"] = auth.identity.assertion()
    if random.random() < 0.8:
        body.update(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE)
    if random.random() < 0.3 and IDS.get("gid"):
        body["grant_id"] = random.choice(IDS["gid"])
    elif random.random() < 0.5:
        body.pop("grant_id", None)
    case.body = body


def plausible_grant(case) -> None:
    """Half of the time, a grant names a real grantee and ends at a time the server may accept."""
    if not isinstance(case.body, dict) or random.random() < 0.5:
        return
    body = dict(case.body)
    body["grantee"] = random.choice(IDS["party_id"])
    now = datetime.datetime.now(datetime.timezone.utc)
    days = random.choice([1, 30, 731, 733])
    body["ends_at"] = (now + datetime.timedelta(days=days)).isoformat().replace("+00:00", "Z")
    if random.random() < 0.5:
        body.pop("starts_at", None)
    else:
        body["starts_at"] = now.isoformat().replace("+00:00", "Z")
    case.body = body
