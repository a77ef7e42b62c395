"""The production double's ASGI app: the production Story API's routes and socket.io, quirks on.

Production (NestJS, Bull queues, MongoDB, paid AI APIs) cannot run in a test environment, so this
double reproduces its observable behaviour, every quirk in ``docs/contract/production.md``
included, so that batchkit's client can be tested against it. It is deliberately wrong wherever
production is wrong; do not "fix" it. It shares no code with ``batchkit.server``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeGuard, TypeVar

import socketio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from batchkit.contract import (
    ALLOWED_EXTENSIONS,
    MAX_FILE_BYTES,
    MAX_FILES,
    WORDS_PER_CHUNK_MAX,
    WORDS_PER_CHUNK_MIN,
    BatchCreateRequest,
    BatchStatusResponse,
    GenerateRequest,
    RequestModel,
    StoryFiles,
    StoryMetadata,
    StoryResponse,
)

from .gateway import StoryGateway
from .state import ProductionState, StoryRecord, Upload, User
from .worker import Broadcaster, run_batch, run_pipeline

_Request = TypeVar("_Request", bound=RequestModel)
_STYLES_THAT_CRASH = frozenset({"oil-painting", "digital-art"})
_SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")


class NestError(Exception):
    """An HTTP error in NestJS's shape."""

    def __init__(self, status: int, message: str | list[str], error: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"statusCode": status, "message": message}
        if error is not None:
            self.body["error"] = error


def internal_error() -> NestError:
    """Production's answer to anything its code did not expect, unknown ids included."""
    return NestError(500, "Internal server error", None)


def bad_request(message: str | list[str]) -> NestError:
    return NestError(400, message, "Bad Request")


def unauthorized(message: str = "Unauthorized") -> NestError:
    return NestError(401, message, "Unauthorized")


@dataclass(frozen=True, slots=True)
class ProductionApp:
    """The ASGI app to serve, and the parts the double drives from outside."""

    asgi: socketio.ASGIApp
    sio: socketio.AsyncServer
    state: ProductionState


def build_app(state: ProductionState) -> ProductionApp:
    """FastAPI for REST and a python-socketio server on the same port, sharing ``state``."""
    # always_connect: the client is told "connected" before the token is checked, and a refused
    # one gets a DISCONNECT packet, not CONNECT_ERROR (what production's gateway does).
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", always_connect=True)
    out = Broadcaster(sio, state)
    app = FastAPI(title="Story API production double", openapi_url=None)
    app.add_exception_handler(NestError, _nest_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _missing_route_response)  # type: ignore[arg-type]
    _auth_routes(app, state)
    _upload_routes(app, state)
    _batch_routes(app, state, out)
    _status_route(app, state)
    _story_routes(app, state, out)
    StoryGateway(sio, state).register()
    return ProductionApp(socketio.ASGIApp(sio, other_asgi_app=app), sio, state)


async def _nest_error_response(_request: Request, exc: NestError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status)


async def _missing_route_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Express answers 404 for an unknown path *and* for a known path with another method.
    if exc.status_code in (404, 405):
        message = f"Cannot {request.method} {request.url.path}"
        return JSONResponse(NestError(404, message, "Not Found").body, status_code=404)
    return JSONResponse(NestError(exc.status_code, str(exc.detail), None).body, exc.status_code)


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise bad_request("Unexpected token in JSON body") from None


def _user_dependency(state: ProductionState) -> Any:
    async def current_user(request: Request) -> User:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = state.user_for_token(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthorized()
        return user

    return Depends(current_user)


# ---------------------------------------------------------------- auth
def _auth_routes(app: FastAPI, state: ProductionState) -> None:
    @app.post("/api/auth/login", status_code=201)
    async def login(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body[k] for k in ("username", "password")
        ):
            raise bad_request(["username should not be empty", "password should not be empty"])
        user = state.users.get(body["username"])
        if user is None or not secrets.compare_digest(user.password, body["password"]):
            raise unauthorized("Invalid credentials")
        return state.tokens.issue(user) | {"user": user.info()}

    @app.post("/api/auth/refresh", status_code=201)
    async def refresh(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        token = body.get("refreshToken") if isinstance(body, dict) else None
        user = state.user_by_id(state.tokens.refresh_subject(token)) if token else None
        if user is None:
            raise unauthorized("Invalid refresh token")
        return state.tokens.issue(user, refreshed=True)


# ---------------------------------------------------------------- upload
def _upload_routes(app: FastAPI, state: ProductionState) -> None:
    current_user = _user_dependency(state)

    @app.post("/api/file-upload/batch-upload", status_code=201)
    async def batch_upload(request: Request, user: User = current_user) -> Any:
        async with request.form(max_files=1000, max_fields=1000) as form:
            items = form.multi_items()
            if any(key != "files" or not isinstance(v, UploadFile) for key, v in items):
                raise bad_request("Unexpected field")
            files = [v for _, v in items if isinstance(v, UploadFile)]
            if not files:
                raise bad_request("No files uploaded")
            if len(files) > MAX_FILES:
                raise bad_request(f"Too many files: at most {MAX_FILES} per request")
            stored = [await _store_upload(state, user, f) for f in files]
        base = str(request.base_url).rstrip("/")
        listed = [
            {
                "fileUrl": f"{base}/{u.file_path}",
                "fileName": u.file_name,
                "fileSize": len(u.data),
                "filePath": u.file_path,
            }
            for u in stored
        ]
        total = sum(len(u.data) for u in stored)
        return {"files": listed, "totalFiles": len(listed), "totalSize": total}

    @app.get("/uploads/{file_path:path}")
    async def original(file_path: str) -> Response:
        upload = state.uploads.get(f"uploads/{file_path}")
        if upload is None:
            raise NestError(404, f"Cannot GET /uploads/{file_path}", "Not Found")
        return Response(upload.data, media_type="application/octet-stream")


async def _store_upload(state: ProductionState, user: User, file: UploadFile) -> Upload:
    name = PurePosixPath(file.filename or "file")
    if name.suffix.lower() not in ALLOWED_EXTENSIONS:
        # Production's file filter throws a plain Error, which Nest turns into a bare 500.
        raise internal_error()
    data = await file.read()
    if not len(data) < MAX_FILE_BYTES:
        raise bad_request(f"File {name.name} is too large: the limit is 10MB")
    stem = _SAFE_STEM.sub("_", name.stem)[:100] or "file"
    stamp = f"{int(time.time() * 1000)}_{secrets.token_hex(4)}"
    path = f"uploads/original/{stem}_{stamp}{name.suffix.lower()}"
    upload = Upload(path, name.name, data, user.id)
    state.uploads[path] = upload
    return upload


# ---------------------------------------------------------------- stories
def parse_request(model: type[_Request], body: object, *, auto_mode_required: bool) -> _Request:
    """Validate like production: the DTO's 400s first, then the service's 500s.

    Production's DTO does not check ``autoMode``'s presence, the two crashing image styles, or
    ``wordPerChunkAudio``'s range; its service then fails on them with a 500.
    """
    if not isinstance(body, dict):
        raise bad_request("Request body must be an object")
    probe = dict(body)
    crashes = auto_mode_required and "autoMode" not in body
    if crashes:
        probe["autoMode"] = {"enabled": False}
    auto = probe.get("autoMode")
    if isinstance(auto, dict):
        auto = dict(auto)
        if auto.get("imageStyle") in _STYLES_THAT_CRASH:
            del auto["imageStyle"]
            crashes = True
        words = auto.get("wordPerChunkAudio")
        if _is_number(words) and not WORDS_PER_CHUNK_MIN <= words <= WORDS_PER_CHUNK_MAX:
            del auto["wordPerChunkAudio"]
            crashes = True
        probe["autoMode"] = auto
    try:
        parsed = model.model_validate(probe)
    except ValidationError as exc:
        raise bad_request([_validator_message(err) for err in exc.errors()]) from None
    if crashes:
        raise internal_error()
    return parsed


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validator_message(err: Any) -> str:
    """A pydantic error in class-validator's words (``property x should not exist``)."""
    path = [str(part) for part in err["loc"]]
    if err["type"] == "extra_forbidden":
        prefix = ".".join(path[:-1])
        return f"{prefix + '.' if prefix else ''}property {path[-1]} should not exist"
    return f"{'.'.join(path)}: {err['msg']}"


def story_body(story: StoryRecord) -> dict[str, Any]:
    """``GET /api/stories/{id}``: the contract's fields without any EXT, plus Mongo's extras."""
    response = StoryResponse(
        id=story.id,
        title=story.title,
        generated_content=story.generated_content,
        custom_prompt=story.custom_prompt,
        status=story.flags,
        metadata=StoryMetadata(
            original_word_count=story.original_word_count,
            generated_word_count=story.generated_word_count,
            processing_time=story.processing_time,
        ),
        files=StoryFiles(original_file=story.file_url, generated_file=story.generated_file),
        created_at=story.created_at,
        updated_at=story.updated_at,
    )
    return response.to_wire() | {"userId": story.owner_id, "__v": 0}


def _batch_routes(app: FastAPI, state: ProductionState, out: Broadcaster) -> None:
    current_user = _user_dependency(state)

    @app.post("/api/stories/batch-create", status_code=201)
    async def batch_create(request: Request, user: User = current_user) -> Any:
        # No Idempotency-Key support: production ignores the header, so a retry is a new batch.
        req = parse_request(BatchCreateRequest, await _json_body(request), auto_mode_required=True)
        batch = state.add_batch(user, list(req.stories), req.auto_mode)
        state.spawn(run_batch(out, batch))
        data = {
            "batchId": batch.id,
            "totalStories": len(req.stories),
            "autoMode": req.auto_mode.enabled,
            "jobId": batch.job_id,
        }
        return {"success": True, "message": "Batch story creation started", "data": data}


def _status_route(app: FastAPI, state: ProductionState) -> None:
    current_user = _user_dependency(state)

    @app.get("/api/stories/batch/{batch_id}/status")
    async def batch_status(batch_id: str, user: User = current_user) -> Any:
        batch = state.owned_batch(batch_id, user)
        if batch is None and batch_id in state.lost_batches:
            # What production answered for a batch whose job a restart forgot.
            raise NestError(500, "Batch job not found", None)
        if batch is None:
            raise internal_error()
        return BatchStatusResponse(
            batch_id=batch.id,
            status=batch.status,
            total_stories=len(batch.inputs),
            completed_stories=batch.completed_stories,
            failed_stories=batch.failed_stories,
            progress=batch.progress,
            story_ids=list(batch.story_ids),
            errors=[],
        ).to_wire()


def _story_routes(app: FastAPI, state: ProductionState, out: Broadcaster) -> None:
    current_user = _user_dependency(state)

    # Also catches GET /api/stories/options: "options" is no ObjectId, hence a 500.
    @app.get("/api/stories/{story_id}")
    async def one_story(story_id: str, user: User = current_user) -> Any:
        story = state.owned_story(story_id, user)
        if story is None:
            raise internal_error()
        return story_body(story)

    @app.post("/api/stories/{story_id}/generate", status_code=201)
    async def generate(story_id: str, request: Request, user: User = current_user) -> Any:
        req = parse_request(GenerateRequest, await _json_body(request), auto_mode_required=False)
        story = state.owned_story(story_id, user)
        if story is None:
            raise internal_error()
        story.custom_prompt = req.custom_prompt
        state.spawn(run_pipeline(out, story, req.auto_mode))
        enabled = req.auto_mode is not None and req.auto_mode.enabled
        return {
            "message": "Story generation started",
            "jobId": state.next_job_id(),
            "autoMode": enabled,
        }
