"""The Host check that defeats DNS rebinding when the server has no API key.

A web page at evil.example can make its own name resolve to 127.0.0.1 and then call the server from the
user's browser: the browser sends `Host: evil.example:PORT` and a matching `Origin`, so comparing the two
proves nothing. What the page cannot forge is the Host header naming its own domain. Without an API key,
a request is therefore answered only when its Host names the address the server listens on: loopback
names and addresses for a loopback bind, that address for another one, any IP address for a wildcard bind
(0.0.0.0 or ::; a page can only send an IP as Host when it was itself loaded from that IP), plus the names
given with --allowed-hosts. Anything else gets 421. A request without Host (HTTP/1.0 tools) cannot come
from a browser and passes. With an API key the key is the defence, and any Host is accepted.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

__all__ = ["HostCheck", "allowed_host_names", "host_name"]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str:
    """The name or address of a Host header, without port, brackets or trailing dot, lower case."""
    value = header.strip().lower()
    if value.startswith("["):  # [v6]:port
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_host_names(bind: str, extra: tuple[str, ...] = ()) -> tuple[frozenset[str], bool]:
    """(the names a Host header may give, whether any IP address is accepted) for a server bound to
    `bind` with `extra` allowed names."""
    names = set(_LOOPBACK_NAMES) | {host_name(h) for h in extra}
    bound = host_name(bind)
    if bound not in _WILDCARDS:
        names.add(bound)
    return frozenset(names), bound in _WILDCARDS


class HostCheck:
    """ASGI middleware: 421 for a Host header that names neither the listening address nor an allowed
    name (see the module's docstring)."""

    def __init__(self, app: Any, bind: str, extra: tuple[str, ...] = ()) -> None:
        self.app = app
        self.names, self.any_ip = allowed_host_names(bind, extra)

    def allows(self, header: str | None) -> bool:
        if header is None:
            return True
        name = host_name(header)
        return name in self.names or (self.any_ip and _is_ip(name))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = None
            for key, value in scope["headers"]:
                if key.lower() == b"host":
                    header = value.decode("latin-1")
                    break
            if not self.allows(header):
                await _refuse(send, header or "")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any, header: str) -> None:
    detail = (
        f"this server does not answer to Host {header[:100]!r}: call it by the address it listens on, "
        "or start it with --allowed-hosts NAME (or with an API key)"
    )
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 421,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
