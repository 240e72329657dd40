"""moto's own server application, unchanged, with two test-only endpoints under /e2e/.

- POST /e2e/backdate-access-key {"userName", "accessKeyId", "days"}: moves that key's creation
  date (and the user's, when it is later) `days` into the past. AWS has no API to create an old
  key, and key age is what `access-key-age` checks.
- POST /e2e/published {"topicArn"}: every message published to the topic, whole (all parts of a
  MessageStructure=json message), as moto recorded it; subscribers only ever see their own part.
- POST /e2e/fidelity {"managedPolicyNames": bool, "reportGeneratedTime": bool}: when true,
  GetAccountAuthorizationDetails lists each managed policy with PolicyName and PolicyId, and
  GetCredentialReport's GeneratedTime is when the report was built (moto builds it at each get),
  as AWS does; moto 5.2 leaves the names out and dates every report 2015-02-02T20:02:02Z.

With MOTO_IAM_LOAD_MANAGED_POLICIES=true, E2E_AWS_MANAGED_POLICIES (comma-separated names) keeps
only those AWS managed policies instead of moto's ~1,480, so each GetAccountAuthorizationDetails
stays small.

Usage: python3 server.py HOST. Listens on a free port of HOST and prints "PORT <n>" once ready.
"""

import json
import os
import sys
from datetime import timedelta

import moto.iam.models as iam_models
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.responses import IamResponse
from moto.iam.models import ManagedPolicy, iam_backends
from moto.sns.models import sns_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

FIDELITY = {"managedPolicyNames": False, "reportGeneratedTime": False}

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
    server = make_server(host, 0, with_test_endpoints(app), threaded=True)
    os.environ["MOTO_PORT"] = str(server.server_port)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
