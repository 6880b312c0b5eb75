"""The docs page as candlecast's: `/` is our Swagger UI page, `/docs.json` BentoML's document
rewritten once per process (`openapi`)."""

from __future__ import annotations

import json

from candlecast.api.asgi_answers import send_body
from candlecast.api.openapi import candlecast_openapi

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>candlecast API</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
    <link rel="icon" href="data:," />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script>
      window.onload = function () {
        window.ui = SwaggerUIBundle({
          url: "./docs.json",
          dom_id: "#swagger-ui",
          deepLinking: true,
          displayOperationId: false,
          defaultModelsExpandDepth: 0,
          presets: [SwaggerUIBundle.presets.apis],
          layout: "BaseLayout",
        });
      };
    </script>
  </body>
</html>
"""


class ApiDocs:
    """ASGI middleware: `/docs.json` is BentoML's document rewritten once per process; `/` is
    our page."""

    def __init__(self, app, require_key: bool = False) -> None:
        self.app = app
        self.require_key = require_key
        self._document: bytes | None = None

    async def _generated(self, scope) -> tuple[int, bytes]:
        chunks: list[bytes] = []
        status = 500

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app({**scope, "method": "GET"}, receive, capture)
        return status, b"".join(chunks)

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == "/docs.json" and scope["method"] in ("GET", "HEAD"):
            if self._document is None:
                status, generated = await self._generated(scope)
                if status != 200:  # BentoML could not build it: its answer, unchanged
                    await self.app(scope, receive, send)
                    return
                document = candlecast_openapi(json.loads(generated), self.require_key)
                self._document = json.dumps(document).encode()
            await send_body(send, self._document, b"application/json", scope["method"])
        elif path == "/" and scope["method"] in ("GET", "HEAD"):
            await send_body(send, DOCS_PAGE.encode(), b"text/html; charset=utf-8", scope["method"])
        else:
            await self.app(scope, receive, send)
