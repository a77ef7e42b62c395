"""One server, one identity: the request loop under :class:`~batchkit.client.StoryClient`.

:class:`Connection` sends a :class:`Call` until it succeeds or the retry policy gives up, logs in
when it needs a token and again when the server says the token expired (production's refresh
endpoint is broken, so it never refreshes), and keeps the token wrapped in a
:class:`~batchkit.client.Secret`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from batchkit import __version__
from batchkit.client.exchange import api_error, exchange, read_model
from batchkit.client.retry import Resend, RetryPolicy, parse_retry_after
from batchkit.client.secret import Secret
from batchkit.client.settings import ClientSettings, token_renewal_time
from batchkit.client.uploads import ProgressCallback, open_upload_fields
from batchkit.config.profiles import Profile
from batchkit.contract.redaction import redact_url
from batchkit.contract.rest import LoginRequest, LoginResponse, UserInfo
from batchkit.errors import (
    APIError,
    AuthError,
    BatchkitError,
    ConfigError,
    NotFoundError,
    ServerError,
    TransportError,
)
from batchkit.files import Document

__all__ = ["Call", "Connection"]

logger = logging.getLogger("batchkit.client")

_PRODUCTION_NOT_FOUND: Final = frozenset({"Internal server error", "Batch job not found"})
"""What production answers, with a 500, for an id it does not know (or a batch it lost)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One logical request; every try of it is built again from this (files are reopened)."""

    method: str
    url: str
    resend: Resend
    json: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    documents: Sequence[Document] = ()
    on_progress: ProgressCallback | None = None
    authenticated: bool = True
    names_an_id: bool = False
    """The URL holds a batch or story id: production answers an unknown one with a 500."""


class Connection:
    """The HTTP connection pool, the retry loop and the token of one client."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy,
    ) -> None:
        self.settings = settings
        self.retry = retry
        self.token: Secret | None = settings.token
        self.user: UserInfo | None = None
        self._renew_at = token_renewal_time(settings.token) if settings.token else None
        self._login_lock = asyncio.Lock()
        self.http = httpx.AsyncClient(
            base_url=settings.base_url,
            transport=transport,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            headers={"User-Agent": f"batchkit/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    @property
    def profile(self) -> Profile:
        return self.settings.profile

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------ the request loop
    async def send(self, call: Call) -> httpx.Response:
        """Send ``call`` until it succeeds or the retry policy gives up; log in again on 401."""
        policy = self.retry
        started = policy.clock()
        attempt, logged_in_again = 0, False
        while True:
            attempt += 1
            token = await self.token_for_request() if call.authenticated else None
            retry_after: float | None = None
            try:
                response = await self._try_once(call, token)
                if response.is_success:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise api_error(response, scrub=self.scrub)
            except AuthError as error:
                if logged_in_again or not self._should_log_in_again(call, error):
                    raise
                logged_in_again = True
                await self._log_in_again(stale=token)
            except (TransportError, APIError) as error:
                final = self._final_error(call, error)
                if final is not error:
                    # Production's "not found" (a 500 naming the id): asking again cannot help,
                    # and a follower decides for itself how long a missing batch may stay so.
                    raise final from error
                wait = policy.delay(
                    error,
                    resend=call.resend,
                    attempt=attempt,
                    elapsed=policy.clock() - started,
                    retry_after=retry_after,
                )
                if wait is None:
                    raise  # not "from error": an error must not be its own cause
                logger.debug(
                    "try %d of %s failed (%s); next in %.2f s", attempt, call.method, error, wait
                )
                await policy.sleep(wait)

    async def _try_once(self, call: Call, token: Secret | None) -> httpx.Response:
        headers = dict(call.headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        with ExitStack() as stack:
            files = open_upload_fields(call.documents, call.on_progress, stack) or None
            # httpx's stubs want IO[bytes]; ProgressReader offers the read/seek/tell it uses.
            request = self.http.build_request(
                call.method,
                call.url,
                json=call.json,
                headers=headers,
                files=files,  # type: ignore[arg-type]
            )
            started = time.perf_counter()
            response = await exchange(self.http, request, scrub=self.scrub)
        logger.debug(
            "%s %s -> %d in %.3f s",
            call.method,
            redact_url(str(request.url)),
            response.status_code,
            time.perf_counter() - started,
        )
        return response

    def _final_error(self, call: Call, error: BatchkitError) -> BatchkitError:
        """The error to raise; production answers an unknown or foreign id with a 500."""
        if not (
            self.profile.hides_not_found
            and call.names_an_id
            and isinstance(error, ServerError)
            and error.status == 500
            and error.server_message in _PRODUCTION_NOT_FOUND
        ):
            return error
        return NotFoundError(
            "not found or not yours (the production server answers both with a 500: "
            f"{error.server_message!r})",
            status=error.status,
            method=error.method,
            url=error.url,
        )

    def contract_broken(self, response: httpx.Response, detail: str) -> APIError:
        """The error for an answer that parses but breaks the contract's promises."""
        return APIError(
            f"the answer does not match the contract: {detail}",
            status=response.status_code,
            method=response.request.method,
            url=redact_url(str(response.request.url)),
        )

    def scrub(self, text: str) -> str:
        """``text`` with every secret this client knows masked."""
        for secret in (self.token, self.settings.token, self.settings.password):
            if secret is not None:
                text = secret.scrub(text)
        return text

    # ------------------------------------------------------------ tokens
    async def token_for_request(self) -> Secret | None:
        """The token to send now, logging in first when there is none or it is about to expire."""
        renew_at = self._renew_at
        expired = renew_at is not None and renew_at <= time.time()
        if (self.token is None or expired) and self.settings.can_login:
            await self._log_in_again(stale=self.token)
        return self.token

    async def login(self) -> UserInfo:
        """Log in with the username and password and keep the token."""
        async with self._login_lock:
            return await self._login_now()

    def _should_log_in_again(self, call: Call, error: AuthError) -> bool:
        return call.authenticated and error.status == 401 and self.settings.can_login

    async def _log_in_again(self, *, stale: Secret | None) -> None:
        async with self._login_lock:
            if self.token is not stale and self.token is not None:
                return  # another request logged in while this one waited for the lock
            await self._login_now()

    async def _login_now(self) -> UserInfo:
        settings = self.settings
        if settings.username is None or settings.password is None:
            raise ConfigError(
                "cannot log in without a username and a password", field="credentials"
            )
        body = LoginRequest(username=settings.username, password=settings.password.reveal())
        call = Call(
            "POST", "/api/auth/login", Resend.ALWAYS, json=body.to_wire(), authenticated=False
        )
        answer = read_model(await self.send(call), LoginResponse)
        self.token = Secret(answer.access_token)
        self._renew_at = token_renewal_time(self.token)
        self.user = answer.user
        logger.debug("logged in to %s as %s", settings.base_url, answer.user.username)
        return answer.user
