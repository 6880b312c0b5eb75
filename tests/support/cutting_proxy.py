"""A loopback TCP proxy in front of a server that forwards each request's headers and only the
first `body_bytes` of its body, then closes both connections: an upload cut off mid-body, as a
dying writer or a dropped connection leaves it, for a real client talking to a real server."""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(self, target: tuple[str, int], body_bytes: int) -> None:
        self.target, self.body_bytes = target, body_bytes
        self.cut = 0  # uploads cut off (connections closed before their body was through)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._stop = False

    def __enter__(self) -> CuttingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        threading.Thread(target=self._pump_back, args=(upstream, client), daemon=True).start()
        seen, body = b"", -1
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    return
                if body < 0:
                    seen += data
                    end = seen.find(b"\r\n\r\n")
                    if end < 0:
                        upstream.sendall(data)
                        continue
                    body = len(seen) - end - 4  # body bytes within what was read
                    upstream.sendall(data[: len(data) - max(0, body - self.body_bytes)])
                else:
                    allowed = max(0, self.body_bytes - body)
                    upstream.sendall(data[:allowed])
                    body += len(data)
                if body > self.body_bytes:
                    self.cut += 1
                    return
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    @staticmethod
    def _pump_back(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            return
