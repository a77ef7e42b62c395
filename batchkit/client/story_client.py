"""The Story API over HTTP: :class:`StoryClient`.

One method per REST endpoint of the contract (section 2), each returning the contract's model.
What the client does for its caller, so that no caller has to:

* logs in when it needs a token, and again when the token expires (production's refresh
  endpoint is broken, so it never refreshes);
* resends a request only when a duplicate cannot do harm (see :class:`~batchkit.client.Resend`):
  a batch-create carries one ``Idempotency-Key`` over all its tries, and against a server that
  ignores the key it is resent only when it surely never arrived;
* turns every failure into one :mod:`batchkit.errors` class carrying the method, the URL and the
  server's message, and never lets the token into a message, a ``repr`` or a log record.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Final, Self
from urllib.parse import quote

import httpx

from batchkit.client.connection import Call, Connection
from batchkit.client.exchange import read_model
from batchkit.client.retry import Resend, RetryPolicy
from batchkit.client.settings import ClientSettings
from batchkit.client.uploads import ProgressCallback
from batchkit.config.options import ServerOptions
from batchkit.config.profiles import Profile
from batchkit.contract.limits import CUSTOM_PROMPT_MAX, MAX_FILES, MAX_STORIES
from batchkit.contract.rest import (
    AutoModeConfig,
    BatchCreateData,
    BatchCreateRequest,
    BatchCreateResponse,
    BatchStatusResponse,
    GenerateRequest,
    GenerateResponse,
    OptionsResponse,
    StoryInput,
    StoryResponse,
    UploadResponse,
    UserInfo,
)
from batchkit.errors import (
    APIError,
    AuthError,
    BatchkitError,
    ConfigError,
    InputError,
)
from batchkit.files import Document, check_documents

__all__ = ["StoryClient"]

logger = logging.getLogger("batchkit.client")

_OPTIONS_PATH: Final = "/api/stories/options"


class StoryClient:
    """An async client of one Story API server.

    Arguments not given are read from the environment (``BATCHKIT_URL``, ``BATCHKIT_TOKEN``,
    ``BATCHKIT_USERNAME``, ``BATCHKIT_PASSWORD``, ``BATCHKIT_PROFILE``,
    ``BATCHKIT_UPLOAD_PATH``; ``env`` replaces ``os.environ``). ``profile`` is ``"reference"``
    (the default) or ``"production"``, or a :class:`~batchkit.config.Profile`. ``transport`` is
    handed to httpx (tests pass an ``httpx.MockTransport`` or ``httpx.ASGITransport``).

    Use it as ``async with StoryClient(...) as client:``, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        profile: str | Profile | None = None,
        upload_path: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        settings = ClientSettings.resolve(
            base_url,
            token=token,
            username=username,
            password=password,
            profile=profile,
            upload_path=upload_path,
            env=os.environ if env is None else env,
        )
        self._connection = Connection(
            settings, transport=transport, timeout=timeout, retry=retry or RetryPolicy()
        )

    # ------------------------------------------------------------ what it is
    @property
    def base_url(self) -> str:
        """The server's root URL, without ``/api`` and without a trailing slash."""
        return self._connection.settings.base_url

    @property
    def profile(self) -> Profile:
        return self._connection.profile

    @property
    def token(self) -> str | None:
        """The current access token, raw, for the socket.io handshake; ``None`` before login.

        Read it again after a reconnect: the client replaces it when it logs in again.
        """
        token = self._connection.token
        return token.reveal() if token else None

    @property
    def user(self) -> UserInfo | None:
        """Who the server said we are at the last login; ``None`` with a given token."""
        return self._connection.user

    def __repr__(self) -> str:
        connection = self._connection
        user = connection.user
        who = connection.settings.username or (user.username if user else None)
        return (
            f"StoryClient(base_url={self.base_url!r}, profile={self.profile.name.value!r}, "
            f"user={who!r}, token={connection.token!r})"
        )

    __str__ = __repr__

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections; the client cannot be used afterwards."""
        await self._connection.aclose()

    # ------------------------------------------------------------ auth (1)
    async def login(self) -> UserInfo:
        """Log in with the username and password; the token is kept for the next requests."""
        return await self._connection.login()

    async def ensure_token(self) -> str:
        """A token valid for a while yet, logging in first if needed (for the socket layer)."""
        token = await self._connection.token_for_request()
        assert token is not None  # ClientSettings guarantees a token or a way to get one
        return token.reveal()

    async def verify_credentials(self) -> None:
        """Raise :class:`AuthError` if the server refuses our token even after a fresh login.

        Any other answer means the token was accepted (production answers 500 here).
        """
        try:
            await self._connection.send(Call("GET", _OPTIONS_PATH, Resend.NEVER))
        except AuthError:
            raise
        except APIError:
            pass

    # ------------------------------------------------------------ endpoints (2)
    async def upload(
        self,
        documents: Sequence[Document],
        on_progress: ProgressCallback | None = None,
        *,
        check: bool = True,
    ) -> UploadResponse:
        """Upload up to 10 documents in one request, streamed from disk.

        ``on_progress(index, sent, total)`` is called as each file's bytes go into the request.
        With ``check`` (the default) the documents are screened first and the first rejection is
        raised as :class:`~batchkit.errors.FileRejected` before anything is sent; screen with
        :func:`batchkit.files.check_documents` beforehand to learn about every file at once.
        Resent only if the connection could not be made: a duplicate upload stores files twice.
        """
        to_send = list(documents)
        if check:
            screening = check_documents(
                to_send, max_files=MAX_FILES, max_bytes=self.profile.max_file_bytes
            )
            screening.raise_for_rejected()
            to_send = list(screening.accepted)
            if not to_send:
                raise InputError("no files to upload")
        call = Call(
            "POST",
            self.profile.upload_path,
            Resend.BEFORE_SEND,
            documents=to_send,
            on_progress=on_progress,
        )
        response = await self._connection.send(call)
        uploaded = read_model(response, UploadResponse)
        if len(uploaded.files) != len(to_send):
            raise self._connection.contract_broken(
                response, f"{len(uploaded.files)} files stored, not {len(to_send)}"
            )
        return uploaded

    async def create_batch(
        self,
        stories: Sequence[StoryInput],
        auto_mode: AutoModeConfig,
        *,
        idempotency_key: str | None = None,
    ) -> BatchCreateData:
        """Create a batch of 1–20 stories from uploaded files.

        Every try carries the same ``Idempotency-Key`` (a new one unless given), so a retried
        create never makes a second batch on a server that honours it; against one that does not
        (production), the create is resent only when it surely never reached the server.
        """
        items = list(stories)
        if not 1 <= len(items) <= MAX_STORIES:
            raise ConfigError(
                f"a batch holds 1–{MAX_STORIES} stories, not {len(items)}", field="stories"
            )
        body = BatchCreateRequest(stories=items, auto_mode=auto_mode).to_wire()
        key = idempotency_key or uuid.uuid4().hex
        resend = Resend.ALWAYS if self.profile.honours_idempotency_key else Resend.BEFORE_SEND
        call = Call(
            "POST",
            "/api/stories/batch-create",
            resend,
            json=body,
            headers={"Idempotency-Key": key},
        )
        response = await self._connection.send(call)
        created = read_model(response, BatchCreateResponse)
        if not created.success:
            raise self._connection.contract_broken(response, f"success is false: {created.message}")
        return created.data

    async def batch_status(self, batch_id: str) -> BatchStatusResponse:
        """The batch's status; :class:`NotFoundError` for an unknown or foreign id."""
        path = f"/api/stories/batch/{_path_id(batch_id, 'batch_id')}/status"
        response = await self._connection.send(Call("GET", path, Resend.ALWAYS, names_an_id=True))
        return read_model(response, BatchStatusResponse)

    async def story(self, story_id: str) -> StoryResponse:
        """One story; :class:`NotFoundError` for an unknown or foreign id."""
        path = f"/api/stories/{_path_id(story_id, 'story_id')}"
        response = await self._connection.send(Call("GET", path, Resend.ALWAYS, names_an_id=True))
        return read_model(response, StoryResponse)

    async def generate(
        self, story_id: str, custom_prompt: str, auto_mode: AutoModeConfig | None = None
    ) -> GenerateResponse:
        """Run a story's pipeline again with ``custom_prompt`` (required, ≤ 2,000 characters).

        Never resent once it may have reached the server: a duplicate would run it twice.
        """
        if not custom_prompt.strip():
            raise ConfigError("a prompt is required to generate a story", field="custom_prompt")
        if len(custom_prompt) > CUSTOM_PROMPT_MAX:
            raise ConfigError(
                f"is {len(custom_prompt):,} characters long; the limit is {CUSTOM_PROMPT_MAX:,}",
                field="custom_prompt",
            )
        body = GenerateRequest(custom_prompt=custom_prompt, auto_mode=auto_mode).to_wire()
        path = f"/api/stories/{_path_id(story_id, 'story_id')}/generate"
        call = Call("POST", path, Resend.BEFORE_SEND, json=body, names_an_id=True)
        return read_model(await self._connection.send(call), GenerateResponse)

    async def options(self) -> ServerOptions:
        """The server's styles, voices and limits; the built-in lists if it cannot say."""
        if not self.profile.serves_options:
            return ServerOptions.builtin()
        try:
            response = await self._connection.send(Call("GET", _OPTIONS_PATH, Resend.NEVER))
            return ServerOptions.from_response(read_model(response, OptionsResponse))
        except BatchkitError as error:
            logger.debug("no options from the server (%s); using the built-in lists", error)
            return ServerOptions.builtin()

    async def fetch_media(self, url: str) -> bytes:
        """The bytes of a media or upload URL the server gave (absolute, or relative to it).

        The token is sent only to this server's own origin, never to another host.
        """
        base = self._connection.http.base_url
        target = base.join(url)
        same_origin = (target.scheme, target.host, target.port) == (
            base.scheme,
            base.host,
            base.port,
        )
        call = Call("GET", str(target), Resend.ALWAYS, authenticated=same_origin)
        return (await self._connection.send(call)).content


def _path_id(value: str, name: str) -> str:
    """An id as one path segment: quoted, so that no id can reach another route."""
    if not value or not value.strip():
        raise ConfigError("an id is required", field=name)
    return quote(value, safe="")
