"""Real PDF files for the loader tests, written with pypdf (Helvetica, WinAnsi text)."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject


def _escape(line: str) -> bytes:
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_pdf(
    lines: list[str],
    title: str | None = None,
    author: str | None = None,
    created: str | None = None,
    password: str | None = None,
) -> bytes:
    """A one-page PDF whose text lines are `lines` (a line each, as a typesetter wraps)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = (
        b"BT /F1 11 Tf 14 TL 72 720 Td "
        + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
        + b" ET"
    )
    stream = StreamObject()
    stream.set_data(content)
    page[NameObject("/Contents")] = writer._add_object(stream)
    meta = {"/Title": title, "/Author": author, "/CreationDate": created}
    writer.add_metadata({k: v for k, v in meta.items() if v})
    if password:
        writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
