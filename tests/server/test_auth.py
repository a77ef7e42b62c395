"""Section 1 of the contract: login, bearer tokens on HTTP, tokens on the socket handshake."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import httpx
import jwt
import pytest
import socketio

from batchkit.contract import ErrorBody, LoginResponse
from batchkit.server import EmbeddedServer

from .conftest import USERS, Api, EventStream

PROTECTED = [
    ("GET", "/api/stories/options"),
    ("GET", "/api/stories/0123456789abcdef01234567"),
    ("GET", "/api/stories/batch/0123456789abcdef01234567/status"),
    ("POST", "/api/stories/batch-create"),
    ("POST", "/api/stories/batch-upload"),
    ("POST", "/api/file-upload/batch-upload"),
    ("POST", "/api/stories/0123456789abcdef01234567/generate"),
    ("GET", "/api/media/0123456789abcdef01234567/image_000.png"),
    ("GET", "/uploads/original/anything.txt"),
]


def _error(response: httpx.Response, status: int) -> ErrorBody:
    assert response.status_code == status, response.text
    body = ErrorBody.model_validate(response.json())
    assert body.status_code == status
    assert body.error
    return body


async def test_login_returns_201_with_a_jwt_that_expires(server: EmbeddedServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/auth/login", json={"username": "alice", "password": USERS["alice"]}
        )
    assert response.status_code == 201
    body = LoginResponse.model_validate(response.json())
    assert set(response.json()) == {
        "accessToken", "refreshToken", "tokenType", "expiresIn", "expiresAt", "user",
    }  # fmt: skip
    assert body.token_type == "Bearer"
    assert body.user.username == "alice"
    assert set(response.json()["user"]) == {"_id", "username", "email", "fullName", "role"}
    claims = jwt.decode(body.access_token, options={"verify_signature": False})
    assert claims["exp"] > time.time()
    assert body.expires_at is not None
    assert abs(datetime.fromisoformat(str(body.expires_at)).timestamp() - claims["exp"]) < 2
    assert "alice-secret" not in repr(body)


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong-password"), ("nobody", "whatever")]
)
async def test_login_refuses_bad_credentials_with_401(
    server: EmbeddedServer, username: str, password: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
    assert "invalid username or password" in _error(response, 401).text()


async def test_login_rejects_unknown_fields_with_400(server: EmbeddedServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/auth/login", json={"username": "alice", "password": "x", "remember": True}
        )
    body = _error(response, 400)
    assert body.error == "Bad Request"
    assert any("remember" in line for line in body.message)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_route_but_login_needs_a_token(
    server: EmbeddedServer, method: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        missing = await http.request(method, path)
        bad = await http.request(method, path, headers={"Authorization": "Bearer not.a.jwt"})
    assert "missing token" in _error(missing, 401).text()
    assert "not valid" in _error(bad, 401).text()


async def test_a_token_signed_with_another_secret_or_expired_is_refused(
    server: EmbeddedServer, alice: Api
) -> None:
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-entirely-32-bytes-long", algorithm="HS256")
    # The server's own secret (kept in its data dir) signing a token that expired a minute ago.
    secret = (server.data_dir / "jwt-secret").read_text()
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, secret, algorithm="HS256")
    for token, words in ((forged, "not valid"), (expired, "expired")):
        response = await alice.http.get(
            "/api/stories/options", headers={"Authorization": f"Bearer {token}"}
        )
        assert words in _error(response, 401).text()


@pytest.mark.parametrize("via", ["query", "auth", "both"])
async def test_socket_accepts_the_token_in_query_or_auth(
    server: EmbeddedServer, alice: Api, stream_factory: Callable[[str, str], EventStream], via: str
) -> None:
    stream = stream_factory(server.url, alice.token)
    await stream.connect(via=via)
    assert stream.client.connected


@pytest.mark.parametrize(
    ("token", "words"), [("", "authentication required"), ("garbage", "authentication failed")]
)
async def test_socket_refuses_a_missing_or_bad_token_with_connect_error(
    server: EmbeddedServer, token: str, words: str
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[object] = []

    async def refused(data: object) -> None:
        refusals.append(data)

    client.on("connect_error", refused)

    url = f"{server.url}?token={token}" if token else server.url
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url, auth={"token": token} if token else None, transports=["websocket"]
        )
    assert not client.connected
    # The reason reaches the client in the connect_error payload, by the time connect() fails.
    assert len(refusals) == 1
    assert isinstance(refusals[0], dict)
    assert words in refusals[0]["message"]
