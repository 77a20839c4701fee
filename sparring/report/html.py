"""Turn the gathered data into one self-contained HTML file.

The page must open from a laptop's disk with no network, years later: so the
CSS and JavaScript (``static/``) are inlined, and the data rides along as JSON
in a ``<script type="application/json">`` tag that the page parses. Model
output is arbitrary text -- it can contain ``</script>`` or ``<!--`` -- so the
JSON is escaped to hold no ``<``, ``>`` or ``&`` at all, and the page only ever
puts text into the DOM with ``textContent``.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

_MARKER = re.compile(r"\{\{(TITLE|CSS|JS|DATA)\}\}")
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def embed_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: the characters that could end or confuse it are escaped.

    ``<``, ``>`` and ``&`` only ever occur inside JSON strings, where ``\\u003c`` means the same
    character to ``JSON.parse``; U+2028/U+2029 are escaped for older JavaScript parsers.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _UNSAFE[m.group(0)], text)


def _static(name: str) -> str:
    return resources.files("sparring.report").joinpath("static", name).read_text(encoding="utf-8")


def render_html(data: dict[str, Any]) -> str:
    """The whole page: the template with its CSS, JS, title and data filled in (one pass, so inserted text is never rescanned)."""
    parts = {
        "TITLE": html.escape(f"sparring report: {data['run']['name']}"),
        "CSS": _static("report.css"),
        "JS": _static("report.js"),
        "DATA": embed_json(data),
    }
    for name in ("CSS", "JS"):
        if re.search(r"</(style|script)", parts[name], re.IGNORECASE):
            raise ValueError(f"static/{name.lower()} must not contain a closing </style> or </script> tag")
    return _MARKER.sub(lambda m: parts[m.group(1)], _static("template.html"))
