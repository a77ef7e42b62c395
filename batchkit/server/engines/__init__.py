"""The local engines of the reference server: text, story, chunks, images, audio.

They need no network and no model weights. Every function is synchronous and CPU-bound; the
server runs them in engine worker processes (:mod:`batchkit.server.worker`), one job at a time
in each, so a hostile document costs one job's limits, never the server. Each is still safe to
call from several threads at once (the speech engine serialises itself behind a lock).
"""

from batchkit.server.engines.audio import (
    VOICES,
    estimated_wav_bytes,
    merge_wavs,
    synthesize,
    wav_duration,
)
from batchkit.server.engines.chunks import split_into_chunks, word_count
from batchkit.server.engines.images import render_image
from batchkit.server.engines.legacy_doc import read_doc_text
from batchkit.server.engines.story import StoryWriter, write_story
from batchkit.server.engines.text import extract_text

__all__ = [
    "VOICES",
    "StoryWriter",
    "estimated_wav_bytes",
    "extract_text",
    "merge_wavs",
    "read_doc_text",
    "render_image",
    "split_into_chunks",
    "synthesize",
    "wav_duration",
    "word_count",
    "write_story",
]
