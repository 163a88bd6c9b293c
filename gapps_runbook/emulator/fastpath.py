"""The two answers every device flow polls for, ``POST /token`` and ``POST /device/code``, without werkzeug's Request.

Issue 9, figure B6: 200 flows polling in lock-step make the cost of one request the figure. werkzeug's
Request (form parser, ``host_url``, URL map) and Response cost more than the grant itself, so
:class:`~.app.App` takes a request here when it is exactly one of these two, with a urlencoded body,
and answers with the same bytes: the form parsed as werkzeug parses it, the base URL werkzeug built
(remembered), the JSON text ``json.dumps(..., indent=2)`` gives, werkzeug's status text and header
order. Anything else (a query string, JSON or multipart bodies, a queued fault, a body werkzeug would
refuse) takes the werkzeug path, as before.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from . import apis

FORM = "application/x-www-form-urlencoded"
PATHS = {"/token": "token", "/device/code": "device_code"}  # POST only
JSON_TYPE = ("Content-Type", "application/json; charset=UTF-8")
Answer = tuple[str, list[tuple[str, str]], bytes]  # status line text, headers, body
_BASE_URLS: dict[tuple[Any, ...], str] = {}


def form_request(environ: dict[str, Any], max_content_length: int) -> tuple[str, dict[str, str]] | None:
    """``(endpoint, params)`` of a request this module answers, else None (then werkzeug's path answers it).

    That is: ``POST`` to the exact path, no query string, Content-Type exactly ``FORM``, the body read
    whole by the server (``wsgi.input_terminated``, a BytesIO not yet read) within ``max_content_length``.
    ``params`` is the first value of every key, in order, as ``{k: request.form.get(k) for k in
    request.form.keys()}``: werkzeug's parse (UTF-8; ``parse_qsl`` keeping blanks, with werkzeug's
    ``werkzeug.url_quote`` error handler; a body that does not decode is an empty form).
    """
    endpoint = PATHS.get(environ.get("PATH_INFO", ""))
    if (endpoint is None or environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE") != FORM or "wsgi.input_terminated" not in environ):  # fmt: skip
        return None
    length, stream = environ.get("CONTENT_LENGTH", ""), environ.get("wsgi.input")
    if not (length.isdigit() and int(length) <= max_content_length and type(stream) is io.BytesIO
            and stream.tell() == 0):  # fmt: skip
        return None
    data = stream.getvalue()  # what werkzeug's LimitedStream would read: the whole terminated input
    if len(data) > max_content_length:  # werkzeug refuses it (413)
        return None
    try:
        items = parse_qsl(data.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:  # werkzeug's form parser is silent: an empty form
        items = []
    params: dict[str, str] = {}
    for key, value in items:
        if key not in params:
            params[key] = value
    return endpoint, params


def base_url(environ: dict[str, Any], host_url: Callable[[], str]) -> str:
    """werkzeug's ``host_url`` (``host_url()``) without its trailing slash, remembered per (scheme, Host, server).

    ``host_url`` depends on these four environ values only (no trusted hosts are set), so the text
    werkzeug built once is the text it would build again; at most 256 keys are kept.
    """
    key = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
           environ.get("SERVER_PORT"))  # fmt: skip
    url = _BASE_URLS.get(key)
    if url is None:
        url = host_url().rstrip("/")
        if len(_BASE_URLS) >= 256:
            _BASE_URLS.clear()
        _BASE_URLS[key] = url
    return url


def json_answer(body: Any, status: int, headers: list[tuple[str, str]],
                extra: list[tuple[str, str]] | None = None) -> Answer:  # fmt: skip
    """What ``apis.json_response(body, status, headers)`` (then ``extra`` headers set on it) sends."""
    data = apis.json_text(body).encode("utf-8")
    out = [*headers, JSON_TYPE, ("Content-Length", str(len(data)))]
    if extra:
        out += extra
    return f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}", out, data


def werkzeug_answer(response: Response, environ: dict[str, Any]) -> Answer:
    """A werkzeug response as an :data:`Answer` (the rare answers: faults, HTTP errors)."""
    answer: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        answer.update(status=status, headers=headers)
        return written.append  # PEP 3333's write(): werkzeug never calls it, but a WSGI callable may

    body = b"".join(response(environ, start_response))
    data = b"".join(written) + body
    return answer["status"], answer["headers"], data
