"""scripts/bench-lambda's harness: the shipped bootstrap (plan_rehearsal) and the same step in
Python (plan_rehearsal.py on awslambdaric), each started as Lambda starts a function, against a
Runtime API served here, moto (RDS, SSM) seeded with production, and an App Runner stand-in for
the three reads the step makes (moto has no App Runner). Prints, per function, the medians of
--runs cold starts and the ratios:
  zip        the deployment package as sam deploy zips it (deflate)
  unzipped   what is in it (the Rust bootstrap; the Python handler with boto3 and its packages)
  init       process start -> its first GET /runtime/invocation/next
  first      the first invocation: the event handed out -> its /response
  peak RSS   VmHWM of the process after that invocation
"""

import argparse
import json
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REGION, ACCOUNT = "us-east-1", "123456789012"
EVENT = {"input": {}, "execution_start": "2026-11-24T09:00:00Z"}
WAIT = 60
# What a Python function vendors to pin its SDK (boto3 is also in Lambda's Python runtime).
PYTHON_PACKAGES = ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py"]


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, payload, headers=()):
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in [("Content-Type", "application/json"), *headers]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A function killed after its run drops its connections; nothing to report.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def serve(handler):
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class RuntimeApi:
    """One execution environment's Runtime API: times the first /next, hands out one event, times its answer."""

    def __init__(self):
        self.events, self.answers = queue.Queue(), queue.Queue()
        self.first_next = None
        api = self

        class Handler(Quiet):
            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.answer(404, {"errorMessage": self.path})
                if api.first_next is None:
                    api.first_next = time.monotonic()
                request_id, payload = api.events.get()
                deadline = str(int(time.time() * 1000) + WAIT * 1000)
                self.answer(200, payload, [("Lambda-Runtime-Aws-Request-Id", request_id), ("Lambda-Runtime-Deadline-Ms", deadline),
                                           ("Lambda-Runtime-Invoked-Function-Arn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench")])

            def do_POST(self):
                body = self.body()
                api.answers.put((time.monotonic(), self.path, json.loads(body or b"null")))
                self.answer(202, {"status": "OK"})

        self.server = serve(Handler)

    def address(self):
        return "127.0.0.1:%d" % self.server.server_port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def app_runner_stand_in():
    """App Runner's JSON 1.0 API for the reads plan_rehearsal makes, with production's service."""
    arn = f"arn:aws:apprunner:{REGION}:{ACCOUNT}:service/tableicty-backend/5f0c2e7a9b1d4c3e8f6a2b9d0c7e1f34"
    summary = {"ServiceName": "tableicty-backend", "ServiceId": arn.rsplit("/", 1)[1], "ServiceArn": arn,
               "ServiceUrl": f"mx3p7kq2vd.{REGION}.awsapprunner.com", "Status": "RUNNING"}
    service = {**summary,
               "SourceConfiguration": {
                   "CodeRepository": {"RepositoryUrl": "https://github.com/tableicty/tableicty-backend",
                                      "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
                                      "CodeConfiguration": {"ConfigurationSource": "REPOSITORY"}},
                   "AutoDeploymentsEnabled": True,
                   "AuthenticationConfiguration": {"ConnectionArn": f"arn:aws:apprunner:{REGION}:{ACCOUNT}:connection/tableicty-github/0c9f"}},
               "InstanceConfiguration": {"Cpu": "1024", "Memory": "2048", "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/tableicty-apprunner"},
               "NetworkConfiguration": {"EgressConfiguration": {"EgressType": "VPC"}}}
    connector = {"VpcConnectorName": "tableicty-vpc-connector", "VpcConnectorRevision": 1, "Status": "ACTIVE",
                 "VpcConnectorArn": f"arn:aws:apprunner:{REGION}:{ACCOUNT}:vpcconnector/tableicty-vpc-connector/1/3a8e"}
    answers = {
        "AppRunner.ListServices": {"ServiceSummaryList": [summary]},
        "AppRunner.DescribeService": {"Service": service},
        "AppRunner.ListTagsForResource": {"Tags": [{"Key": "Environment", "Value": "production"}]},
        "AppRunner.ListVpcConnectors": {"VpcConnectors": [connector]},
    }

    class Handler(Quiet):
        def do_POST(self):
            self.body()
            target = self.headers.get("X-Amz-Target", "")
            if target in answers:
                self.answer(200, answers[target], [("Content-Type", "application/x-amz-json-1.0")])
            else:
                self.answer(400, {"__type": "UnknownOperationException", "message": f"the stand-in does not answer {target}"})

    return serve(Handler)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    log = open(ROOT / "target/bench-lambda-moto.log", "w")
    process = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"moto_server did not start; see {log.name}")
            time.sleep(0.1)


def seed_production(endpoint):
    """What plan_rehearsal reads of production, as the over-the-wire tests seed it."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    session.client("rds", endpoint_url=endpoint).create_db_instance(
        DBInstanceIdentifier="tableicty-production-db", Engine="postgres", DBInstanceClass="db.t3.small", AllocatedStorage=20,
        MasterUsername="tableicty", MasterUserPassword="production-password", PubliclyAccessible=False)
    ssm = session.client("ssm", endpoint_url=endpoint)
    for name, value in [
        ("/tableicty/production/DATABASE_URL", "postgres://tableicty:production-password@tableicty-production-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432/tableicty"),
        ("/tableicty/production/SECRET_KEY", "django-prod-8f#kq2!vz7@xw3$mn5^tb9&hc1*rd6"),
        ("/tableicty/production/PGCRYPTO_KEY", "pgcrypto-4e9a1c7f2b8d6e0a3c5f7b9d1e2a4c6f"),
        ("/tableicty/rehearsal/STRIPE_SECRET_KEY", "sk_test_51NqTbTestSecretKey3Jf8kL2wQ9"),
        ("/tableicty/rehearsal/STRIPE_PUBLISHABLE_KEY", "pk_test_51NqTbTestPublishable6Zx1Cv8Bn3Mq5Wr2Et9Yu4"),
        ("/tableicty/rehearsal/TEST_ADMIN_PASSWORD", "rehearsal-admin-password"),
    ]:
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")


def lambda_environment(runtime_api, handler, moto, apprunner):
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api, "_HANDLER": handler, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_ENDPOINT_URL": moto, "AWS_ENDPOINT_URL_APPRUNNER": apprunner, "AWS_EC2_METADATA_DISABLED": "true", "TZ": ":UTC",
    }


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def cold_start(name, command, environment, cwd):
    """One cold start and first invocation: (init s, first invocation s, peak RSS KiB)."""
    api = RuntimeApi()
    log = open(ROOT / f"target/bench-lambda-{name}.log", "a")
    environment = {**environment, "AWS_LAMBDA_RUNTIME_API": api.address()}
    started = time.monotonic()
    process = subprocess.Popen(command, env=environment, cwd=cwd, stdout=log, stderr=log)
    try:
        while api.first_next is None:
            if process.poll() is not None or time.monotonic() - started > WAIT:
                sys.exit(f"{name} never asked for an invocation; see {log.name}")
            time.sleep(0.0005)
        init = api.first_next - started
        handed = time.monotonic()
        api.events.put(("bench-1", EVENT))
        answered, path, body = api.answers.get(timeout=WAIT)
        if not path.endswith("/response") or not body.get("run_id"):
            sys.exit(f"{name} did not plan: {path} {json.dumps(body)[:600]}; see {log.name}")
        return init, answered - handed, peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        api.close()


def zipped(paths):
    """(zip bytes as sam deploy makes it, bytes in it): each file at the top, each folder as itself."""
    files = [(f, f.relative_to(p.parent)) for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
    files = [(f, name) for f, name in files if f.is_file() and "__pycache__" not in f.parts]
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "function.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for f, name in files:
                zf.write(f, name)
        return archive.stat().st_size, sum(f.stat().st_size for f, _ in files)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True, type=Path, help="the shipped bootstrap (sam build's artifact)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("--runs must be at least 1")

    moto, endpoint = start_moto()
    apprunner = app_runner_stand_in()
    try:
        seed_production(endpoint)
        apprunner_url = "http://127.0.0.1:%d" % apprunner.server_port
        site = Path(boto3.__file__).parents[1]
        functions = {
            "rust": ([str(args.bootstrap.resolve())], lambda_environment("", "plan_rehearsal", endpoint, apprunner_url), str(ROOT),
                     [args.bootstrap]),
            "python": ([sys.executable, "-m", "awslambdaric", "plan_rehearsal.handler"],
                       {**lambda_environment("", "plan_rehearsal.handler", endpoint, apprunner_url), "LAMBDA_TASK_ROOT": str(HERE),
                        "PYTHONPATH": str(HERE)}, str(HERE),
                       [HERE / "plan_rehearsal.py", *(site / p for p in PYTHON_PACKAGES)]),
        }
        results = {name: [] for name in functions}
        for _ in range(args.runs):
            for name, (command, environment, cwd, _) in functions.items():
                results[name].append(cold_start(name, command, environment, cwd))
    finally:
        apprunner.shutdown()
        moto.kill()
        moto.wait()

    rows = {}
    for name, (_, _, _, paths) in functions.items():
        zip_bytes, unzipped = zipped(paths)
        init, first, rss = (statistics.median(r[i] for r in results[name]) for i in range(3))
        rows[name] = (zip_bytes / 2**20, unzipped / 2**20, init * 1000, first * 1000, rss / 1024)
    print(f"plan_rehearsal against moto, medians of {args.runs} cold starts each")
    print(f"{'':8}{'zip MiB':>10}{'unzipped MiB':>14}{'init ms':>10}{'first ms':>10}{'peak RSS MiB':>14}")
    for name, row in rows.items():
        print(f"{name:8}{row[0]:10.1f}{row[1]:14.1f}{row[2]:10.1f}{row[3]:10.1f}{row[4]:14.1f}")
    ratio = [p / r for p, r in zip(rows["python"], rows["rust"])]
    print(f"{'python/rust':8}" + "".join(f"{v:{w}.1f}x" for v, w in zip(ratio, [9, 13, 9, 9, 13])))
    inits = {name: ", ".join(f"{r[0] * 1000:.1f}" for r in results[name]) for name in results}
    print("init ms per run: " + "; ".join(f"{name} {values}" for name, values in inits.items()))


if __name__ == "__main__":
    main()
