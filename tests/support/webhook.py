"""A loopback stand-in for a Slack incoming webhook: records every message it accepts; `fail_next`
posts are refused with a 500 (and not recorded), as a webhook that is down."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

from tests.support.loopback import LoopbackServer


class WebhookSink(LoopbackServer):
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refused: list[dict] = []
        self.fail_next = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if sink.fail_next > 0:
                    sink.fail_next -= 1
                    sink.refused.append(json.loads(body))
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sink.messages.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"{self.base_url}/services/T000/B000/XXXX"
