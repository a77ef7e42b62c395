"""What a client may expect of each kind of Story API server (contract section 7)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from batchkit.contract.limits import MAX_FILE_BYTES, PRODUCTION_IMAGE_STYLES, ImageStyle
from batchkit.errors import ConfigError

__all__ = ["PRODUCTION", "REFERENCE", "Profile", "ProfileName"]


class ProfileName(StrEnum):
    REFERENCE = "reference"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True)
class Profile:
    """What a client may expect of one kind of Story API server."""

    name: ProfileName
    upload_path: str
    honours_idempotency_key: bool
    """A retried batch-create with the same ``Idempotency-Key`` creates nothing new."""
    serves_options: bool
    """``GET /api/stories/options`` answers (production answers 500)."""
    reports_results: bool
    """Batch status carries the per-file ``results`` (EXT)."""
    max_file_bytes: int
    """The largest file accepted, inclusive."""
    image_styles: frozenset[ImageStyle]
    hides_not_found: bool
    """Unknown and foreign ids are answered with 500 "Internal server error" instead of 404."""
    events_confirm_steps: bool
    """Its events confirm the work they report. Production's run ahead of it (§7.4): there only
    the story's status flags over REST confirm a step."""
    retries_crashed_batches: bool
    """A batch whose worker crashed is run again, making its stories again (§7.7)."""

    @property
    def reads_stories(self) -> bool:
        """A follower must read each open story over REST: events alone cannot finish a run."""
        return not (self.reports_results and self.events_confirm_steps)

    @classmethod
    def named(cls, profile: str | Profile) -> Profile:
        """The profile called ``profile`` (``"reference"`` or ``"production"``)."""
        if isinstance(profile, Profile):
            return profile
        try:
            return _PROFILES[ProfileName(profile.strip().lower())]
        except ValueError:
            known = ", ".join(name.value for name in ProfileName)
            raise ConfigError(
                f"unknown profile {profile!r}; use {known}", field="profile"
            ) from None

    def with_upload_path(self, upload_path: str) -> Profile:
        """This profile with another upload route (a server behind a different prefix)."""
        if not upload_path.startswith("/"):
            raise ConfigError("must start with '/'", field="upload_path")
        return dataclasses.replace(self, upload_path=upload_path)


REFERENCE: Final = Profile(
    name=ProfileName.REFERENCE,
    upload_path="/api/stories/batch-upload",
    honours_idempotency_key=True,
    serves_options=True,
    reports_results=True,
    max_file_bytes=MAX_FILE_BYTES,
    image_styles=frozenset(ImageStyle),
    hides_not_found=False,
    events_confirm_steps=True,
    retries_crashed_batches=False,
)
PRODUCTION: Final = Profile(
    name=ProfileName.PRODUCTION,
    upload_path="/api/file-upload/batch-upload",
    honours_idempotency_key=False,
    serves_options=False,
    reports_results=False,
    max_file_bytes=MAX_FILE_BYTES - 1,  # its check is "size < 10485760"
    image_styles=PRODUCTION_IMAGE_STYLES,
    hides_not_found=True,
    events_confirm_steps=False,
    retries_crashed_batches=True,
)
_PROFILES: Final = {REFERENCE.name: REFERENCE, PRODUCTION.name: PRODUCTION}
