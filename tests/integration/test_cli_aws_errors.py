"""An error that comes back from an AWS endpoint is one clear line, never a traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "case-study"
IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<GetCallerIdentityResult><Arn>arn:aws:iam::333333333333:user/u</Arn>"
    "<UserId>u</UserId><Account>333333333333</Account></GetCallerIdentityResult>"
    "</GetCallerIdentityResponse>"
)


class _Broken(BaseHTTPRequestHandler):
    """STS answers; every other service answers what no AWS parser can read."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        answer = IDENTITY if "GetCallerIdentity" in body else "<html>502 Bad Gateway"
        data = answer.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def broken_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreadable_answer_from_the_endpoint_is_one_line(broken_endpoint: None) -> None:
    result = CliRunner().invoke(app, ["destroy", str(SAMPLES / "pipeline-x"), "--yes"])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("error: AWS:") and "502 Bad Gateway" in line
