"""QR codes as SVG, with segno (the optional ``qr`` extra: ``pip install 'credflow[qr]'``)."""

from __future__ import annotations

import io

from credflow.errors import InvalidInput, MissingDependency

__all__ = ["svg"]


def svg(data: str, *, scale: int = 4) -> str:
    """``data`` as a QR code: one ``<svg xmlns=…>`` element, to embed in a page or save as a
    file (error correction M, the 4-module quiet zone scanners need).

    Raises MissingDependency when segno is not installed.
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= 40:
        raise InvalidInput("must be an int from 1 to 40", field="scale")
    try:
        import segno
    except ImportError:
        raise MissingDependency("QR codes", "qr") from None
    buffer = io.BytesIO()
    segno.make(data, error="m", micro=False).save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False
    )
    return buffer.getvalue().decode("utf-8")
