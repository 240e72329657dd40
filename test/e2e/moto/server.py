"""moto's own server application, with test-only endpoints under /e2e/ and the fidelity fixes they switch.

- POST /e2e/backdate-access-key {"userName", "accessKeyId", "days"}: moves that key's creation
  date (and the user's, when it is later) `days` into the past. AWS has no API to create an old
  key, and key age is what `access-key-age` checks.
- POST /e2e/published {"topicArn"}: every message published to the topic, whole (all parts of a
  MessageStructure=json message), as moto recorded it; subscribers only ever see their own part.
- POST /e2e/fidelity {"managedPolicyNames": bool, "reportGeneratedTime": bool}: when true,
  GetAccountAuthorizationDetails lists each managed policy with PolicyName and PolicyId, and
  GetCredentialReport's GeneratedTime is when the report was built (moto builds it at each get),
  as AWS does; moto 5.2 leaves the names out and dates every report 2015-02-02T20:02:02Z.
- POST /e2e/fidelity {"assumeRoleTrust": bool}: when true, sts:AssumeRole answers AccessDenied (403,
  AWS's message) unless the role exists in its account and its trust policy admits the caller
  (see `trust_admits`); moto 5.2 issues credentials for any role ARN, existing or not, and checks
  no trust across accounts. Off by default: the organization harness turns it on.
- POST /e2e/fidelity {"scps": bool}: when true, a call made in a member account of an organization
  whose root has SCPs enabled is AccessDenied ("with an explicit deny in a service control
  policy") unless every level of its chain (root, each OU, the account) has an SCP allowing the
  action and none denies it, as AWS evaluates SCPs (service-linked roles exempt); moto 5.2
  stores SCPs and enforces none. Off by default: the organization harness turns it on.

With MOTO_IAM_LOAD_MANAGED_POLICIES=true, E2E_AWS_MANAGED_POLICIES (comma-separated names) keeps
only those AWS managed policies instead of moto's ~1,480, so each GetAccountAuthorizationDetails
stays small.

Usage: python3 server.py HOST [PORT]. Listens on PORT (default: a free port) of HOST and prints
"PORT <n>" once ready.
"""

import fnmatch
import json
import os
import sys
import threading
from datetime import timedelta

import moto.iam.models as iam_models
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal.recorder.models import Recorder
from moto.iam.responses import IamResponse
from moto.iam.models import ManagedPolicy, iam_backends
from moto.organizations.models import organizations_backends
from moto.sns.models import sns_backends
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

FIDELITY = {"managedPolicyNames": False, "reportGeneratedTime": False, "assumeRoleTrust": False, "scps": False}

if os.environ.get("E2E_AWS_MANAGED_POLICIES"):
    keep = set(os.environ["E2E_AWS_MANAGED_POLICIES"].split(","))
    every = json.loads(iam_models.aws_managed_policies_data)
    missing = keep - set(every)
    if missing:
        sys.exit(f"moto has no AWS managed policies named {sorted(missing)}")
    iam_models.aws_managed_policies_data = json.dumps({name: every[name] for name in keep})


def _name(policy):
    if FIDELITY["managedPolicyNames"]:
        return policy.name
    raise AttributeError("PolicyName")


def _id(policy):
    if FIDELITY["managedPolicyNames"]:
        return policy.id
    raise AttributeError("PolicyId")


ManagedPolicy.policy_name = property(_name)
ManagedPolicy.policy_id = property(_id)

_moto_get_credential_report = IamResponse.get_credential_report


def _get_credential_report(self):
    result = _moto_get_credential_report(self)
    if FIDELITY["reportGeneratedTime"]:
        return ActionResult({**result.result, "GeneratedTime": utcnow()})
    return result


IamResponse.get_credential_report = _get_credential_report

# moto's request recorder appends each entry through a buffered file in pieces, so entries of
# concurrent requests (one account's audit per thread) can interleave on one line: one at a time.
_record_lock = threading.Lock()
_moto_record_request = Recorder._record_request


def _record_request(self, request, body=None):
    with _record_lock:
        return _moto_record_request(self, request, body)


Recorder._record_request = _record_request


def _as_list(value):
    return value if isinstance(value, list) else [value]


def caller_principal(account, access_key_id):
    """
    The caller as a trust policy sees it, and as AWS's error names it: its aws:PrincipalArn (for a
    role session, the role's ARN) and its own ARN (the session's).
    """
    for backend in sts_backends[account].values():
        session = backend.get_assumed_role_from_access_key(access_key_id)
        if session is not None:
            return session.role_arn, session.arn
    for backend in iam_backends[account].values():
        user = backend.get_user_from_access_key_id(access_key_id)
        if user is not None:
            return user.arn, user.arn
    # Keys moto does not know (the tests' dummy keys) stand for the account itself.
    return f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:root"


def _principal_matches(principal, caller_account, caller_arn):
    if principal == "*":
        return True
    if not isinstance(principal, dict) or "AWS" not in principal:
        return False
    for p in _as_list(principal["AWS"]):
        if p == "*" or p == caller_account or p == f"arn:aws:iam::{caller_account}:root" or p == caller_arn:
            return True
    return False


def _condition_holds(operator, key, expected, context):
    """The operators the auditor's trusts use; any other is not satisfied (never a silent pass)."""
    actual = context.get(key)
    base = operator.removesuffix("IfExists")
    if actual is None:
        return operator.endswith("IfExists")
    values = _as_list(expected)
    if base in ("StringEquals", "ArnEquals"):
        return actual in values
    if base in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "Bool":
        return str(actual).lower() in [str(v).lower() for v in values]
    return False


def trust_admits(document, caller_account, caller_arn, external_id):
    """
    AWS's rule for the trust half of AssumeRole: an Allow statement for sts:AssumeRole whose
    Principal is the caller (its account, the account's root, or its ARN) and whose conditions hold
    (aws:PrincipalArn, aws:PrincipalAccount, sts:ExternalId; no MFA), and no such Deny.
    """
    context = {"aws:PrincipalArn": caller_arn, "aws:PrincipalAccount": caller_account, "aws:MultiFactorAuthPresent": "false"}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    allowed = False
    for statement in _as_list(json.loads(document).get("Statement", [])):
        actions = _as_list(statement.get("Action", []))
        if not any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            continue
        if not _principal_matches(statement.get("Principal"), caller_account, caller_arn):
            continue
        conditions = statement.get("Condition", {})
        if not all(_condition_holds(op, key, value, context) for op, pairs in conditions.items() for key, value in pairs.items()):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


_moto_assume_role = TokenResponse.assume_role


def _assume_role(self):
    if FIDELITY["assumeRoleTrust"]:
        role_arn = self._get_param("RoleArn")
        caller_account = self.get_current_account()
        caller_arn, session_arn = caller_principal(caller_account, self.get_access_key())
        denied = AccessDeniedError(session_arn, f"sts:AssumeRole on resource: {role_arn}")
        target_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        role = None
        for backend in iam_backends[target_account].values() if target_account.isdigit() else []:
            try:
                role = backend.get_role_by_arn(role_arn)
                break
            except Exception:
                continue
        # AWS gives the same answer for a role that does not exist and one whose trust refuses.
        if role is None or not trust_admits(role.assume_role_policy_document, caller_account, caller_arn, self._get_param("ExternalId")):
            raise denied
    return _moto_assume_role(self)


TokenResponse.assume_role = _assume_role


def _statement_matches(statement, action, context):
    if "NotAction" in statement:
        concerned = not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["NotAction"]))
    else:
        concerned = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement.get("Action", [])))
    if not concerned:
        return False
    conditions = statement.get("Condition", {})
    return all(_condition_holds(op, key, value, context) for op, pairs in conditions.items() for key, value in pairs.items())


def scp_denial(account, action, principal_arn):
    """Why the SCPs of the account's chain refuse the action, or None (SPEC 3.3's rule, as AWS applies it)."""
    owner = organizations_backends.master_accounts.get(account)
    if owner is None or ":role/aws-service-role/" in principal_arn:
        return None
    backend = organizations_backends[owner[0]][owner[1]]
    try:
        entity = backend.get_account_by_id(account)
    except Exception:
        return None
    chain = [entity]
    by_id = {ou.id: ou for ou in backend.ou}
    while getattr(chain[-1], "parent_id", None) in by_id:
        chain.append(by_id[chain[-1].parent_id])
    root = chain[-1]
    if not any(t["Type"] == "SERVICE_CONTROL_POLICY" for t in getattr(root, "policy_types", [])):
        return None
    context = {"aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account}
    for level in reversed(chain):
        allowed = False
        for policy in level.attached_policies:
            if policy.type != "SERVICE_CONTROL_POLICY":
                continue
            for statement in _as_list(json.loads(policy.content).get("Statement", [])):
                if _statement_matches(statement, action, context):
                    if statement.get("Effect") == "Deny":
                        return "with an explicit deny in a service control policy"
                    allowed = True
        if not allowed:
            return "because no service control policy allows the action"
    return None


_moto_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def _authorize(self, resource="*"):
    _moto_authorize(self, resource)
    if not FIDELITY["scps"]:
        return
    authorization = self.headers.get("Authorization") or ""
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in authorization else []
    if len(scope) < 4:
        return
    account = self.get_current_account()
    action = f"{scope[3]}:{self._get_action()}"
    principal_arn, caller_arn = caller_principal(account, scope[0])
    reason = scp_denial(account, action, principal_arn)
    if reason is not None:
        raise AccessDeniedError(caller_arn, f"{action} on resource: {resource} {reason}")


ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authorize


def backdate(body):
    days = float(body["days"])
    for account in list(iam_backends.values()):
        for backend in account.values():
            user = backend.users.get(body["userName"])
            if user is None:
                continue
            for key in user.access_keys:
                if key.access_key_id == body["accessKeyId"]:
                    key.create_date = utcnow() - timedelta(days=days)
                    if user.create_date > key.create_date:
                        user.create_date = key.create_date
                    return 200, {"status": "ok"}
    return 404, {"error": f"no access key {body['accessKeyId']} for user {body['userName']}"}


def published(body):
    arn = body["topicArn"]
    account, region = arn.split(":")[4], arn.split(":")[3]
    topic = sns_backends[account][region].topics.get(arn)
    if topic is None:
        return 404, {"error": f"no topic {arn}"}
    return 200, [{"messageId": m[0], "message": m[1], "subject": m[2]} for m in topic.sent_notifications]


def json_response(start_response, status, payload):
    data = json.dumps(payload).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def with_test_endpoints(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/e2e/"):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if path == "/e2e/backdate-access-key":
            return json_response(start_response, *backdate(body))
        if path == "/e2e/published":
            return json_response(start_response, *published(body))
        if path == "/e2e/fidelity":
            FIDELITY.update({k: bool(v) for k, v in body.items() if k in FIDELITY})
            return json_response(start_response, 200, dict(FIDELITY))
        return json_response(start_response, 404, {"error": f"unknown test endpoint {path}"})

    return wrapped


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    app = DomainDispatcherApplication(create_backend_app)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = make_server(host, port, with_test_endpoints(app), threaded=True)
    os.environ["MOTO_PORT"] = str(server.server_port)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
