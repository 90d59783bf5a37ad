"""The embedded multi-account AWS: one endpoint, one set of credentials per account.

moto's WSGI application is served from this process (``dpc.sandbox.endpoint``: werkzeug
on 127.0.0.1, a free port) behind the sandbox's interception layer, so dpc and any other
client reach it exactly as they reach AWS: with an endpoint URL. The server installs the
interceptions that make moto's S3 and CloudFormation behave as AWS's for every caller
(``dpc.sandbox.s3``, ``dpc.sandbox.cloudformation``); the rest of the sandbox adds its own
(``dpc.sandbox.sandbox``).

Accounts: moto picks a request's account from an ``x-moto-account-id`` header, else from
the access key of an IAM user created in that account. The sandbox creates one IAM user
with an access key per account and hands out those keys. Per-account credentials, not the
header, because that is how the code under test meets AWS: the deploy code, the CLI and
the Lambda handlers (which read ``AWS_ACCESS_KEY_ID`` like a Lambda's execution role) need
no sandbox-specific hook, and ``sts get-caller-identity`` answers the right account, which
is how ``dpc deploy`` learns the account a pipeline defaults to. The header is used once,
to create those users.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from dpc.sandbox.cloudformation import CloudFormation
from dpc.sandbox.endpoint import Endpoint, Serving
from dpc.sandbox.s3 import BucketPolicies

CENTRAL_ACCOUNT = "999999999999"
CASE_STUDY_ACCOUNTS: Mapping[str, str] = MappingProxyType(
    {"central": CENTRAL_ACCOUNT, "A": "111111111111", "B": "222222222222", "C": "333333333333"}
)
"""The accounts of the case study (DESIGN §1), by the names the story uses."""

DEFAULT_REGION = "eu-west-1"
_SANDBOX_USER = "dpc-sandbox"


@contextmanager
def environment_while(variables: Mapping[str, str], unset: Iterable[str] = ()) -> Iterator[None]:
    """``variables`` set and ``unset`` removed in os.environ while the block runs; afterwards
    each of them is exactly as before (absent again if it was absent)."""
    unset = tuple(unset)
    saved = {name: os.environ.get(name) for name in [*variables, *unset]}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class AccountCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str


class SandboxServer:
    """A moto server holding several accounts, and boto3 sessions that reach each of them."""

    def __init__(
        self,
        accounts: Mapping[str, str] = CASE_STUDY_ACCOUNTS,
        region: str = DEFAULT_REGION,
        port: int = 0,
    ) -> None:
        self.accounts = dict(accounts)
        """Story name (``central``, ``A``…) → 12-digit account id."""
        self.region = region
        self.port = port
        """0: a free port (the demo); `dpc sandbox up --port` asks for a fixed one."""
        self._serving: Serving | None = None
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.api = Endpoint(DomainDispatcherApplication(create_backend_app))
        """The interception layer in front of moto; the sandbox registers its own there."""
        self.cloudformation = CloudFormation(self.client_of_key, self.account_of_key)
        self.cloudformation.install(self.api)
        BucketPolicies().install(self.api)
        self._accounts_of_keys: dict[str, str] = {}
        self._credentials: dict[str, AccountCredentials] = {}
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._loader: Any = None
        self._lock = threading.RLock()
        self.endpoint = ""

    def start(self) -> SandboxServer:
        # moto would serve every request from this one account if the variable were set.
        os.environ.pop("MOTO_ACCOUNT_ID", None)
        # The embedded server's request log and moto's notes on the template resources it
        # does not create would drown the timeline (the sandbox covers those: DESIGN §8).
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message=r"Tried to parse .* not supported by moto")
        self._serving = Serving(self.api, self.port)
        self.endpoint = self._serving.url
        # moto's state lives in this process: start from nothing even if a sandbox ran before.
        self._reset()
        for account_id in self.accounts.values():
            self._credentials[account_id] = self._create_credentials(account_id)
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._reset()
            self._serving.stop()
            self._serving = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def _create_credentials(self, account_id: str) -> AccountCredentials:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="sandbox-bootstrap",
            aws_secret_access_key="sandbox-bootstrap",
        )

        def add_account_header(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        iam.meta.events.register("before-send.iam.*", add_account_header)
        iam.create_user(UserName=_SANDBOX_USER)
        key = iam.create_access_key(UserName=_SANDBOX_USER)["AccessKey"]
        return AccountCredentials(account_id, key["AccessKeyId"], key["SecretAccessKey"])

    def account_id(self, name_or_id: str) -> str:
        """Accept the story's names (``A``, ``central``) wherever an account id is wanted."""
        return self.accounts.get(name_or_id, name_or_id)

    def account_of_key(self, access_key_id: str) -> str:
        """The account an access key acts in: one the sandbox issued, or any other moto
        knows (an assumed role's, say), as STS answers for it."""
        for credentials in self._credentials.values():
            if credentials.access_key_id == access_key_id:
                return credentials.account_id
        if access_key_id not in self._accounts_of_keys:
            sts = self.client_of_key(access_key_id, "sts")
            self._accounts_of_keys[access_key_id] = str(sts.get_caller_identity()["Account"])
        return self._accounts_of_keys[access_key_id]

    def client_of_key(self, access_key_id: str, service: str) -> Any:
        """A client acting with ``access_key_id`` on this endpoint, for the interceptions'
        own calls on behalf of a caller (moto checks no signature, so no secret is needed)."""
        import boto3

        for credentials in self._credentials.values():
            if credentials.access_key_id == access_key_id:
                return self.client(credentials.account_id, service)
        # Any: the service is named at run time, so no one client type of the stubs applies.
        session: Any = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key="sandbox",
            region_name=self.region,
        )
        return session.client(service, endpoint_url=self.endpoint)

    def credentials(self, account: str) -> AccountCredentials:
        return self._credentials[self.account_id(account)]

    def environment(self, account: str) -> dict[str, str]:
        """What a process (or an in-process handler) needs to act as ``account`` here."""
        creds = self.credentials(account)
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def session(self, account: str) -> Any:
        """A boto3 session of ``account``; its clients still need ``endpoint_url``.

        Sessions share one botocore data loader: building a client otherwise re-reads the
        service models and endpoint rules from disk, the bulk of the sandbox's run time."""
        import boto3
        import botocore.session

        account_id = self.account_id(account)
        if account_id not in self._sessions:
            if self._loader is None:
                self._loader = botocore.session.get_session().get_component("data_loader")
            core = botocore.session.get_session()
            core.register_component("data_loader", self._loader)
            creds = self.credentials(account_id)
            self._sessions[account_id] = boto3.Session(
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key,
                region_name=self.region,
                botocore_session=core,
            )
        return self._sessions[account_id]

    def client(self, account: str, service: str) -> Any:
        """A client of ``account`` on the sandbox endpoint (one per account and service;
        boto3 clients are thread-safe)."""
        key = (self.account_id(account), service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session(account).client(
                    service, endpoint_url=self.endpoint
                )
            return self._clients[key]

    @contextmanager
    def acting_as(self, account: str) -> Iterator[None]:
        """Point the process environment at ``account`` while code that builds its own
        clients from the environment (the CLI's deploy, a Lambda handler) runs."""
        wanted = self.environment(account)
        wanted["AWS_CONFIG_FILE"] = os.devnull
        wanted["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        with environment_while(wanted, unset=("AWS_PROFILE", "AWS_SESSION_TOKEN")):
            yield
