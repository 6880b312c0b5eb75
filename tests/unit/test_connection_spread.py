"""Keep-alive connections spread over workers: a real uvicorn server closes every n-th
connection it answers on (the client reconnects, to whichever worker accepts first)."""

from __future__ import annotations

import http.client
import threading
import time

import uvicorn

from candlecast.api import ConnectionSpread
from tests.support.bento_server import free_port


async def forecast_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


def test_every_nth_answer_closes_its_connection_and_the_client_reconnects():
    port = free_port()
    config = uvicorn.Config(
        ConnectionSpread(forecast_app, every=4), port=port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        closing, connections, local = [], set(), None
        for _ in range(12):
            client.request("POST", "/predict", body=b"{}")
            local = client.sock.getsockname()
            connections.add(local)
            answer = client.getresponse()
            assert answer.status == 200 and answer.read() == b"{}"
            closing.append(answer.getheader("connection") == "close")
        client.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert closing == [False, False, False, True] * 3
    assert len(connections) == 3  # a new connection after each close, none otherwise
