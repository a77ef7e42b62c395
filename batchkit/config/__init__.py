"""What a batch asks of the Story API, what a server offers, and what a client may expect of it.

* :class:`BatchConfig`: every ``autoMode`` setting with the contract's defaults, plus a title and
  a custom prompt per file; an invalid value raises one :class:`~batchkit.errors.ConfigError`.
* :class:`ServerOptions`: a server's choices and limits (its ``GET /api/stories/options`` answer
  when it has one, the contract's built-in lists otherwise).
* :class:`Profile`: what a client may expect of the reference or the production server.
* presets: :func:`save_preset`, :func:`load_preset`, :func:`list_presets`, :func:`presets_dir`.
"""

from batchkit.config.batch import BatchConfig
from batchkit.config.options import ServerOptions
from batchkit.config.presets import list_presets, load_preset, presets_dir, save_preset
from batchkit.config.profiles import PRODUCTION, REFERENCE, Profile, ProfileName

__all__ = [
    "PRODUCTION",
    "REFERENCE",
    "BatchConfig",
    "Profile",
    "ProfileName",
    "ServerOptions",
    "list_presets",
    "load_preset",
    "presets_dir",
    "save_preset",
]
