"""Text of a legacy Word 97–2003 binary document, read from the structures [MS-DOC] describes.

The path to the characters::

    OLE2 compound file
    └── WordDocument stream ── FIB: which table stream (0Table/1Table), ccpText, fcClx/lcbClx
        └── table stream ── Clx: Prc records (formatting, skipped), then Pcdt = PlcPcd
            └── pieces: CP ranges, each stored either as 8-bit "compressed" text at fc/2
                or as UTF-16LE at fc, in the WordDocument stream

Only the main document (the first ``ccpText`` characters) is returned; footnotes, headers and
comments follow it in the character stream and are left out. Field codes are dropped and their
results kept; Word's special characters become plain text equivalents.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import olefile

from batchkit.contract.signatures import OLE2_SIGNATURE
from batchkit.errors import DocumentError
from batchkit.server.engines.signatures import describe_content

__all__ = ["read_doc_text"]

_WORD_IDENT: Final = 0xA5EC
_FIRST_WORD97_NFIB: Final = 0x00C0
"""Word 97 writes 0x00C1 (some builds 0x00C0); Word 6 and 95 wrote 0x0065–0x0068."""
_FLAG_ENCRYPTED: Final = 0x0100
_FLAG_TABLE_1: Final = 0x0200
_FLAG_OBFUSCATED: Final = 0x8000
_FIB_BASE_SIZE: Final = 32
_CCP_TEXT_INDEX: Final = 3
"""Position of ccpText among FibRgLw97's 32-bit values."""
_CLX_PAIR_INDEX: Final = 33
"""Position of (fcClx, lcbClx) among FibRgFcLcb97's pairs."""
_CLX_PRC: Final = 0x01
_CLX_PCDT: Final = 0x02
_PCD_SIZE: Final = 8
_FC_COMPRESSED: Final = 0x4000_0000
_FC_MASK: Final = 0x3FFF_FFFF
_MAX_CHARACTERS: Final = 64 * 1024 * 1024


def _compressed_table() -> dict[int, str]:
    """Byte → character for compressed pieces: Windows-1252, with its five holes kept as-is."""
    table: dict[int, str] = {}
    for byte in range(256):
        try:
            table[byte] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            table[byte] = chr(byte)
    return table


_COMPRESSED_TO_TEXT: Final = str.maketrans({chr(b): c for b, c in _compressed_table().items()})
_SPECIAL_CHARACTERS: Final = str.maketrans(
    {
        "\r": "\n",  # paragraph mark
        "\x0b": "\n",  # manual line break
        "\x0c": "\n",  # page or section break
        "\x07": "\t",  # table cell or row mark
        "\x1e": "-",  # non-breaking hyphen
        "\x1f": None,  # optional hyphen
        **{chr(code): None for code in range(0x20) if chr(code) not in "\t\n\r\x0b\x0c\x07\x1e"},
    }
)
_FIELD_BEGIN: Final = "\x13"
_FIELD_SEPARATOR: Final = "\x14"
_FIELD_END: Final = "\x15"
_FIELD_MARKS: Final = re.compile(f"([{_FIELD_BEGIN}{_FIELD_SEPARATOR}{_FIELD_END}])")


@dataclass(frozen=True, slots=True)
class _Fib:
    """The parts of the File Information Block this reader needs."""

    table_stream: str
    main_text_length: int
    clx_offset: int
    clx_length: int


@dataclass(frozen=True, slots=True)
class _Piece:
    """``length`` characters stored at byte ``offset`` of the WordDocument stream."""

    length: int
    offset: int
    compressed: bool


def read_doc_text(path: Path) -> str:
    """Main-document text of a Word 97–2003 ``.doc``, one paragraph per line.

    Raises:
        DocumentError: not an OLE2 file, not a Word document, an older Word version, encrypted,
            or damaged.
    """
    with path.open("rb") as file:
        head = file.read(4096)
    if not head.startswith(OLE2_SIGNATURE):
        what = describe_content(head)
        found = f": it is {what} (disguised)" if what else ""
        raise DocumentError(f"the .doc file is not a Word 97–2003 document{found}")
    try:
        with olefile.OleFileIO(str(path)) as ole:
            word_stream, table_stream, fib = _read_streams(ole)
        raw = _piece_text(word_stream, _read_pieces(table_stream, fib), fib.main_text_length)
    except (OSError, ValueError, IndexError, struct.error) as error:
        # olefile and struct speak for a truncated or scrambled file in these ways; their words
        # ("OLE sector index out of range", or advice about sys.set_int_max_str_digits) mean
        # nothing to a user, so they stay in the exception chain.
        raise DocumentError(
            "the .doc file is damaged: it starts like a Word 97–2003 document, "
            "but its contents cannot be read"
        ) from error
    return _plain_text(raw)


def _read_streams(ole: olefile.OleFileIO) -> tuple[bytes, bytes, _Fib]:
    if not ole.exists("WordDocument"):
        raise DocumentError(
            "the .doc file is an Office file but not a Word document "
            "(perhaps an Excel or PowerPoint file renamed to .doc)"
        )
    word_stream: bytes = ole.openstream("WordDocument").read()
    fib = _parse_fib(word_stream)
    if not ole.exists(fib.table_stream):
        raise DocumentError(f"the .doc file is damaged: its {fib.table_stream} stream is missing")
    table_stream: bytes = ole.openstream(fib.table_stream).read()
    return word_stream, table_stream, fib


def _parse_fib(word: bytes) -> _Fib:
    """Walk FibBase, FibRgW, FibRgLw and FibRgFcLcb by their own declared sizes."""
    ident, n_fib = struct.unpack_from("<HH", word, 0)
    if ident != _WORD_IDENT:
        raise DocumentError("the .doc file is damaged: its WordDocument stream has no Word header")
    if n_fib < _FIRST_WORD97_NFIB:
        raise DocumentError(
            "the .doc file was saved by Word 6 or Word 95, which is not supported; "
            "save it again as .docx or as a Word 97–2003 .doc"
        )
    (flags,) = struct.unpack_from("<H", word, 0x0A)
    if flags & (_FLAG_ENCRYPTED | _FLAG_OBFUSCATED):
        raise DocumentError("the .doc file is password-protected; save it without a password")
    offset = _FIB_BASE_SIZE
    (csw,) = struct.unpack_from("<H", word, offset)
    offset += 2 + 2 * csw
    (cslw,) = struct.unpack_from("<H", word, offset)
    long_values = offset + 2
    (ccp_text,) = struct.unpack_from("<i", word, long_values + 4 * _CCP_TEXT_INDEX)
    offset = long_values + 4 * cslw
    (pair_count,) = struct.unpack_from("<H", word, offset)
    if cslw <= _CCP_TEXT_INDEX or pair_count <= _CLX_PAIR_INDEX or ccp_text < 0:
        raise DocumentError("the .doc file is damaged: its file information block is too short")
    fc_clx, lcb_clx = struct.unpack_from("<II", word, offset + 2 + 8 * _CLX_PAIR_INDEX)
    return _Fib(
        table_stream="1Table" if flags & _FLAG_TABLE_1 else "0Table",
        main_text_length=ccp_text,
        clx_offset=fc_clx,
        clx_length=lcb_clx,
    )


def _read_pieces(table: bytes, fib: _Fib) -> list[_Piece]:
    """Skip the Clx's Prc records and decode its PlcPcd into pieces."""
    clx = table[fib.clx_offset : fib.clx_offset + fib.clx_length]
    if fib.clx_length == 0 or len(clx) != fib.clx_length:
        raise DocumentError("the .doc file is damaged: its piece table is missing")
    position = 0
    while position < len(clx) and clx[position] == _CLX_PRC:
        (grpprl_size,) = struct.unpack_from("<h", clx, position + 1)
        position += 3 + max(grpprl_size, 0)
    if position >= len(clx) or clx[position] != _CLX_PCDT:
        raise DocumentError("the .doc file is damaged: its piece table is malformed")
    (plc_size,) = struct.unpack_from("<I", clx, position + 1)
    plc = clx[position + 5 : position + 5 + plc_size]
    count = (plc_size - 4) // (4 + _PCD_SIZE)
    if count < 1 or len(plc) != plc_size or 4 * (count + 1) + _PCD_SIZE * count != plc_size:
        raise DocumentError("the .doc file is damaged: its piece table has a wrong size")
    starts = struct.unpack_from(f"<{count + 1}I", plc, 0)
    pieces = []
    for index in range(count):
        (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + _PCD_SIZE * index + 2)
        compressed = bool(fc & _FC_COMPRESSED)
        offset = (fc & _FC_MASK) // 2 if compressed else fc & _FC_MASK
        pieces.append(_Piece(starts[index + 1] - starts[index], offset, compressed))
    return pieces


def _piece_text(word: bytes, pieces: list[_Piece], wanted: int) -> str:
    """Concatenate pieces until ``wanted`` characters (the main document) are collected."""
    if wanted > _MAX_CHARACTERS:
        raise DocumentError("the .doc file claims more text than any real document holds")
    parts: list[str] = []
    remaining = wanted
    for piece in pieces:
        if remaining <= 0:
            break
        length = min(piece.length, remaining)
        if length < 0:
            raise DocumentError("the .doc file is damaged: its piece table runs backwards")
        width = 1 if piece.compressed else 2
        data = word[piece.offset : piece.offset + width * length]
        if len(data) != width * length:
            raise DocumentError("the .doc file is damaged: its text lies outside the document")
        if piece.compressed:
            parts.append(data.decode("latin-1").translate(_COMPRESSED_TO_TEXT))
        else:
            parts.append(data.decode("utf-16-le", errors="replace"))
        remaining -= length
    return "".join(parts)


def _plain_text(raw: str) -> str:
    """Drop field instructions (keeping results), map Word's marks to text, trim the end."""
    return _drop_field_codes(raw).translate(_SPECIAL_CHARACTERS).rstrip("\n")


def _drop_field_codes(raw: str) -> str:
    """Fields are ``0x13 code [0x14 result] 0x15`` and nest; keep text outside any code part."""
    if _FIELD_BEGIN not in raw:
        return raw
    kept: list[str] = []
    in_code: list[bool] = []  # one entry per open field: still in its code part?
    for part in _FIELD_MARKS.split(raw):
        if part == _FIELD_BEGIN:
            in_code.append(True)
        elif part == _FIELD_SEPARATOR:
            if in_code:
                in_code[-1] = False
        elif part == _FIELD_END:
            if in_code:
                in_code.pop()
        elif not any(in_code):
            kept.append(part)
    return "".join(kept)
