#!/usr/bin/env python3
"""Interop checks of courier's bundled server with clients nobody here wrote: curl, Python
`requests`, and `h11` (a strict sans-IO HTTP/1.1 implementation that rejects any framing or
header-syntax slip in our responses).

The server under test is the `httpd` example (examples/httpd.rs):

    interop_server.py                    # starts target/debug/examples/httpd on port 0
    interop_server.py PATH/TO/httpd      # starts that binary
    interop_server.py http://127.0.0.1:P # checks a server that is already running

Build the example first (`cargo build --example httpd`); scripts/interop.sh does all of it.
Needs curl, `requests` and `h11` (python3 -m pip install requests h11). Prints one line per
check and a final `N passed, M failed`; exits 1 if any check failed.
"""

import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

import h11
import requests

# What the httpd example answers (kept in step with examples/httpd.rs by these checks).
MAIN_PAGE = (
    b'<html><body><h1>Hello World!</h1><a href="/test">another test page</a>'
    b'<ul><li><a href="/form">a form</a></li><li><a href="/upload">a file upload</a></li></ul>'
    b"</body></html>"
)
TEST_PAGE = b'<html><body><h1>Test page</h1><a href="/">Back to the main page</a></body></html>'
NOT_FOUND = b"404 Not Found: no handler for this path\n"
HTML = "text/html; charset=utf-8"
TIMEOUT = 20  # seconds, for any one client operation


def fields_page(title, back, lines):
    """The page the example lists submitted fields on; `lines` are the <li> contents."""
    items = "".join(f"<li>{line}</li>\n" for line in lines)
    page = f'<html><body><h1>{title}</h1>\n<ul>\n{items}</ul>\n<a href="{back}">Back</a></body></html>\n'
    return page.encode()


def form_page(*lines):
    return fields_page("Form received", "/form", lines)


def upload_page(*lines):
    return fields_page("Upload received", "/upload", lines)


def pattern(n):
    """n bytes where byte i is i % 251 (what /stream sends)."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def eq(what, got, expected):
    if got != expected:
        shown_got, shown_expected = got, expected
        if isinstance(got, (bytes, str)) and len(got) > 300:
            shown_got = f"{len(got)} bytes/chars starting {got[:120]!r}"
        if isinstance(expected, (bytes, str)) and len(expected) > 300:
            shown_expected = f"{len(expected)} bytes/chars starting {expected[:120]!r}"
        raise AssertionError(f"{what}: expected {shown_expected!r}, got {shown_got!r}")


def ok(what, condition):
    if not condition:
        raise AssertionError(what)


# --- the server under test -------------------------------------------------------------


class Httpd:
    """Starts the httpd example on port 0 and learns its URL from the first line it prints."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("listening on http://"):
            self.stop()
            raise SystemExit(f"interop_server: {binary} did not print 'listening on URL' (got {line!r})")
        self.url = line[len("listening on ") :]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


BASE = ""  # set in main()


def url(path):
    return BASE + path


def host_port():
    parsed = urllib.parse.urlsplit(BASE)
    return parsed.hostname, parsed.port


# --- the checks --------------------------------------------------------------------------

CHECKS = []


def check(name):
    def register(function):
        CHECKS.append((name, function))
        return function

    return register


# curl ---------------------------------------------------------------------------------


class CurlResult:
    def __init__(self, proc, head_text):
        self.code = proc.returncode
        self.body = proc.stdout
        self.stderr = proc.stderr.decode(errors="replace")
        # Every response head curl saw (1xx included), in order: (status line, [(name, value)]).
        self.heads = []
        for block in head_text.replace("\r\n", "\n").split("\n\n"):
            lines = [line for line in block.split("\n") if line]
            if lines:
                fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
                self.heads.append((lines[0], [(name.lower(), value) for name, value in fields]))

    def status(self, index=-1):
        return self.heads[index][0]

    def header(self, name, index=-1):
        values = [value for key, value in self.heads[index][1] if key == name]
        return values[0] if values else None


def curl(*args):
    """Runs curl with the response heads dumped (-D) apart from the body (stdout)."""
    with tempfile.TemporaryDirectory() as work:
        dump = os.path.join(work, "heads")
        command = ["curl", "-sS", "--max-time", str(TIMEOUT), "-D", dump, *args]
        proc = subprocess.run(command, capture_output=True, timeout=TIMEOUT + 10)
        head_text = open(dump, encoding="latin-1").read() if os.path.exists(dump) else ""
    result = CurlResult(proc, head_text)
    eq(f"curl exit status (stderr: {result.stderr.strip()[-300:]})", result.code, 0)
    return result


@check("curl: GET / (status, headers, exact body)")
def curl_get():
    res = curl(url("/"))
    eq("status line", res.status(), "HTTP/1.1 200 OK")
    eq("content-type", res.header("content-type"), HTML)
    eq("content-length", res.header("content-length"), str(len(MAIN_PAGE)))
    ok("Date header", res.header("date"))
    ok("Server header", (res.header("server") or "").startswith("courier/"))
    eq("cache-control", res.header("cache-control"), "max-age=0")
    eq("body", res.body, MAIN_PAGE)


@check("curl: GET /test, /form, /upload pages and a 404")
def curl_pages():
    res = curl(url("/test"))
    eq("/test status", res.status(), "HTTP/1.1 200 OK")
    eq("/test body", res.body, TEST_PAGE)
    res = curl(url("/form"))
    eq("/form status", res.status(), "HTTP/1.1 200 OK")
    ok("/form shows a form posting to /form", b'<form action="/form" method="post">' in res.body)
    res = curl(url("/upload"))
    eq("/upload status", res.status(), "HTTP/1.1 200 OK")
    ok("/upload shows a multipart form", b'enctype="multipart/form-data"' in res.body)
    res = curl(url("/nowhere"))
    eq("/nowhere status", res.status(), "HTTP/1.1 404 Not Found")
    eq("/nowhere body", res.body, NOT_FOUND)


@check("curl: HEAD / then GET /test on the same connection")
def curl_head():
    res = curl("-v", "-I", url("/"), "--next", "-sS", url("/test"))
    eq("HEAD status line", res.status(0), "HTTP/1.1 200 OK")
    eq("HEAD content-length (as GET's)", res.header("content-length", 0), str(len(MAIN_PAGE)))
    ok("connection reused after HEAD", "Re-using existing connection" in res.stderr)
    # -I prints the head on stdout; anything after it is the GET's body.
    eq("GET body after HEAD", res.body.split(b"\r\n\r\n", 1)[1], TEST_PAGE)


@check("curl: POST a urlencoded form (curl -d)")
def curl_form():
    res = curl("-d", "name=Robin+Redeker", "-d", "lang=perl%26rust", "-d", "city=K%C3%B6ln", url("/form"))
    eq("status line", res.status(), "HTTP/1.1 200 OK")
    eq("body", res.body, form_page("name = Robin Redeker", "lang = perl&amp;rust", "city = Köln"))


@check("curl: multipart upload (curl -F file=@...)")
def curl_upload():
    with tempfile.TemporaryDirectory() as work:
        notes, data = os.path.join(work, "notes.txt"), os.path.join(work, "data.bin")
        with open(notes, "wb") as f:
            f.write(b"line\n" * 2000)
        with open(data, "wb") as f:
            f.write(pattern(300_000))
        files = ["-F", f"file=@{notes};type=text/plain", "-F", f"blob=@{data}"]
        res = curl(*files, "--form-string", "note=<b>hi</b>", url("/upload"))
    eq("status line", res.status(), "HTTP/1.1 200 OK")
    expected = upload_page(
        "file: file notes.txt, 10000 bytes, text/plain",
        "blob: file data.bin, 300000 bytes, application/octet-stream",
        "note = &lt;b&gt;hi&lt;/b&gt;",
    )
    eq("body", res.body, expected)


@check("curl: --http1.0 (answered, then closed)")
def curl_http10():
    res = curl("--http1.0", url("/test"))
    ok(f"status 200 (got {res.status()!r})", res.status().split(" ", 2)[1] == "200")
    eq("connection header", (res.header("connection") or "").lower(), "close")
    eq("body", res.body, TEST_PAGE)


@check("curl: --http1.0 streamed download (close-delimited body)")
def curl_http10_stream():
    res = curl("--http1.0", url("/stream?bytes=500000"))
    ok(f"status 200 (got {res.status()!r})", res.status().split(" ", 2)[1] == "200")
    eq("no chunked coding in HTTP/1.0", res.header("transfer-encoding"), None)
    eq("connection header", (res.header("connection") or "").lower(), "close")
    eq("body", res.body, pattern(500_000))


@check("curl: --http1.0 with Connection: keep-alive reuses the connection")
def curl_http10_keep_alive():
    res = curl("--http1.0", "-H", "Connection: keep-alive", "-v", url("/"), url("/test"))
    ok("connection reused", "Re-using existing connection" in res.stderr)
    eq("connection header", (res.header("connection", 0) or "").lower(), "keep-alive")
    eq("same connection id", res.header("x-connection-id", 1), res.header("x-connection-id", 0))
    eq("bodies", res.body, MAIN_PAGE + TEST_PAGE)


@check("curl: HTTP/1.1 keep-alive, two URLs on one connection")
def curl_keep_alive():
    res = curl("-v", url("/"), url("/test"))
    ok("connection reused", "Re-using existing connection" in res.stderr)
    eq("response heads", [head[0] for head in res.heads], ["HTTP/1.1 200 OK"] * 2)
    eq("same connection id", res.header("x-connection-id", 1), res.header("x-connection-id", 0))
    eq("request indexes", [res.header("x-request-index", i) for i in (0, 1)], ["0", "1"])
    eq("bodies", res.body, MAIN_PAGE + TEST_PAGE)


@check("curl: Expect: 100-continue upload of 2 MiB")
def curl_expect_continue():
    big = pattern(2 << 20)
    with tempfile.NamedTemporaryFile() as f:
        f.write(big)
        f.flush()
        started = time.monotonic()
        res = curl(
            "-v",
            "-H",
            "Expect: 100-continue",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            f"@{f.name}",
            url("/echo"),
        )
        elapsed = time.monotonic() - started
    ok("server sent 100 Continue", "< HTTP/1.1 100 Continue" in res.stderr)
    eq("final status line", res.status(), "HTTP/1.1 200 OK")
    ok(f"curl did not wait out its 1 s expect timeout ({elapsed:.2f} s)", elapsed < 1.0)
    eq("echoed body", res.body, big)


@check("curl: chunked upload (Transfer-Encoding: chunked)")
def curl_chunked_upload():
    data = pattern(300_000)
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        res = curl(
            "-v",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            f"@{f.name}",
            url("/echo"),
        )
    ok("curl sent chunked", "> Transfer-Encoding: chunked" in res.stderr)
    eq("status line", res.status(), "HTTP/1.1 200 OK")
    eq("content-length of the echo", res.header("content-length"), str(len(data)))
    eq("echoed body", res.body, data)


@check("curl: streamed (chunked) download of 3 MB")
def curl_stream():
    res = curl(url("/stream?bytes=3000000"))
    eq("status line", res.status(), "HTTP/1.1 200 OK")
    eq("transfer-encoding", res.header("transfer-encoding"), "chunked")
    eq("body", res.body, pattern(3_000_000))


# requests -------------------------------------------------------------------------------


@check("requests: GET / (status, headers, exact body)")
def requests_get():
    res = requests.get(url("/"), timeout=TIMEOUT)
    eq("status", (res.status_code, res.reason), (200, "OK"))
    eq("content-type", res.headers["content-type"], HTML)
    ok("Server header", res.headers.get("server", "").startswith("courier/"))
    eq("cache-control", res.headers.get("cache-control"), "max-age=0")
    eq("expires equals date", res.headers.get("expires"), res.headers.get("date"))
    eq("body", res.content, MAIN_PAGE)
    res = requests.get(url("/test/deeper/page"), timeout=TIMEOUT)  # the HTTPD path walk
    eq("walked up to /test", (res.status_code, res.content), (200, TEST_PAGE))


@check("requests: POST a form (data=...)")
def requests_form():
    data = {"name": "Robin Redeker", "lang": "perl & rust; C", "quote": '"<x>"', "empty": ""}
    res = requests.post(url("/form"), data=data, timeout=TIMEOUT)
    eq("status", res.status_code, 200)
    expected = form_page(
        "name = Robin Redeker",
        "lang = perl &amp; rust; C",
        "quote = &quot;&lt;x&gt;&quot;",
        "empty = ",
    )
    eq("body", res.content, expected)


@check("requests: /form takes query and body params; /upload wants multipart")
def requests_form_query_and_types():
    res = requests.post(url("/form?from=query"), data={"from": "body"}, timeout=TIMEOUT)
    eq("query then body", (res.status_code, res.content), (200, form_page("from = query", "from = body")))
    res = requests.post(url("/form"), data={"text": "x"}, files={"f": ("f.txt", b"abc")}, timeout=TIMEOUT)
    eq("multipart to /form: text fields", (res.status_code, res.content), (200, form_page("text = x")))
    res = requests.post(url("/upload"), data={"a": "1"}, timeout=TIMEOUT)
    eq("urlencoded to /upload", res.status_code, 415)


@check("requests: multipart upload (files=...)")
def requests_upload():
    files = {
        "file": ("hello.txt", b"hello\n", "text/plain"),
        "blob": ("big.bin", pattern(1_000_000), "application/octet-stream"),
    }
    res = requests.post(url("/upload"), data={"note": "two files"}, files=files, timeout=TIMEOUT)
    eq("status", res.status_code, 200)
    expected = upload_page(
        "note = two files",
        "file: file hello.txt, 6 bytes, text/plain",
        "blob: file big.bin, 1000000 bytes, application/octet-stream",
    )
    eq("body", res.content, expected)


@check("requests: a Session's requests share one connection")
def requests_session():
    with requests.Session() as session:
        responses = [
            session.get(url("/"), timeout=TIMEOUT),
            session.get(url("/test"), timeout=TIMEOUT),
            session.post(url("/form"), data={"a": "1"}, timeout=TIMEOUT),
            session.get(url("/nowhere"), timeout=TIMEOUT),
        ]
    eq("statuses", [res.status_code for res in responses], [200, 200, 200, 404])
    eq("bodies", [res.content for res in responses], [MAIN_PAGE, TEST_PAGE, form_page("a = 1"), NOT_FOUND])
    ids = {res.headers["x-connection-id"] for res in responses}
    eq("connections the server saw", len(ids), 1)
    eq("request indexes", [res.headers["x-request-index"] for res in responses], ["0", "1", "2", "3"])
    with requests.Session() as other:
        res = other.get(url("/"), timeout=TIMEOUT)
    ok("a new Session gets a new connection", res.headers["x-connection-id"] not in ids)


@check("requests: streamed download (stream=True, iter_content)")
def requests_stream():
    total = 5_000_000
    with requests.get(url(f"/stream?bytes={total}"), stream=True, timeout=TIMEOUT) as res:
        eq("status", res.status_code, 200)
        eq("transfer-encoding", res.headers.get("transfer-encoding"), "chunked")
        pieces = list(res.iter_content(chunk_size=64 * 1024))
    ok(f"several pieces ({len(pieces)})", len(pieces) > 10)
    eq("body", b"".join(pieces), pattern(total))


@check("requests: chunked upload from a generator")
def requests_chunked_upload():
    parts = [pattern(10_000), b"", b"middle", pattern(70_000)]
    res = requests.post(url("/echo"), data=iter(parts), timeout=TIMEOUT)
    eq("sent chunked", res.request.headers.get("transfer-encoding"), "chunked")
    eq("status", res.status_code, 200)
    eq("echoed body", res.content, b"".join(parts))


@check("requests: PUT /form is 405 with Allow")
def requests_method_not_allowed():
    res = requests.put(url("/form"), data=b"x", timeout=TIMEOUT)
    eq("status", res.status_code, 405)
    eq("allow", res.headers.get("allow"), "GET, HEAD, POST")


# h11 -----------------------------------------------------------------------------------


class H11Client:
    """One socket driven by h11's client state machine; any ProtocolError fails the check."""

    def __init__(self):
        self.host, self.port = host_port()
        self.sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self):
        self.sock.close()

    def send(self, event):
        data = self.conn.send(event)
        if data:
            self.sock.sendall(data)

    def next_event(self):
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(64 * 1024))
                continue
            return event

    def start(self, method, target, headers=(), body_headers=()):
        host = f"{self.host}:{self.port}"
        headers = [("Host", host), *headers, *body_headers]
        self.send(h11.Request(method=method, target=target, headers=headers))

    def finish(self):
        """Reads a response to the end: (informational responses, response, body)."""
        informational, body = [], bytearray()
        while True:
            event = self.next_event()
            if isinstance(event, h11.InformationalResponse):
                informational.append(event)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return informational, response, bytes(body)
            else:
                raise AssertionError(f"unexpected h11 event {event!r}")

    def request(self, method, target, headers=(), body=None):
        body_headers = [("Content-Length", str(len(body)))] if body is not None else []
        self.start(method, target, headers, body_headers)
        if body:
            self.send(h11.Data(data=body))
        self.send(h11.EndOfMessage())
        return self.finish()

    def next_cycle(self):
        eq("client state", self.conn.our_state, h11.DONE)
        eq("server state", self.conn.their_state, h11.DONE)
        self.conn.start_next_cycle()


def header(response, name):
    values = [value.decode() for key, value in response.headers if key == name.encode()]
    return values[0] if values else None


def h11_check(name):
    def register(function):
        def run():
            client = H11Client()
            try:
                function(client)
            finally:
                client.close()

        return check(name)(run)

    return register


@h11_check("h11: GET / (strict framing and header syntax)")
def h11_get(client):
    _, res, body = client.request("GET", "/")
    eq("status", (res.status_code, res.reason, res.http_version), (200, b"OK", b"1.1"))
    eq("content-type", header(res, "content-type"), HTML)
    eq("content-length", header(res, "content-length"), str(len(MAIN_PAGE)))
    eq("body", body, MAIN_PAGE)


@h11_check("h11: two requests in a row on one connection")
def h11_keep_alive(client):
    _, first, body = client.request("GET", "/")
    eq("first", (first.status_code, body), (200, MAIN_PAGE))
    client.next_cycle()
    _, second, body = client.request("GET", "/test")
    eq("second", (second.status_code, body), (200, TEST_PAGE))
    eq("same connection id", header(second, "x-connection-id"), header(first, "x-connection-id"))
    eq("request indexes", [header(first, "x-request-index"), header(second, "x-request-index")], ["0", "1"])


@h11_check("h11: HEAD then GET on one connection (HEAD has no body)")
def h11_head(client):
    _, res, body = client.request("HEAD", "/")
    eq("HEAD", (res.status_code, header(res, "content-length"), body), (200, str(len(MAIN_PAGE)), b""))
    client.next_cycle()
    _, res, body = client.request("GET", "/test")
    eq("GET after HEAD", (res.status_code, body), (200, TEST_PAGE))


@h11_check("h11: POST a form with Content-Length")
def h11_post(client):
    form = b"name=h11&lang=python&sep=%3B%26"
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    _, res, body = client.request("POST", "/form", headers, form)
    eq("status", res.status_code, 200)
    eq("body", body, form_page("name = h11", "lang = python", "sep = ;&amp;"))


@h11_check("h11: chunked POST, then a GET on the same connection")
def h11_chunked_post(client):
    pieces = [b"first piece|", pattern(40_000), b"|last"]
    headers = [("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")]
    client.start("POST", "/echo", headers)
    for piece in pieces:
        client.send(h11.Data(data=piece))
    client.send(h11.EndOfMessage())
    _, res, body = client.finish()
    eq("status", res.status_code, 200)
    eq("echoed body", body, b"".join(pieces))
    client.next_cycle()
    _, res, body = client.request("GET", "/test")
    eq("GET after the chunked POST", (res.status_code, body), (200, TEST_PAGE))


@h11_check("h11: chunked response (/stream)")
def h11_stream(client):
    _, res, body = client.request("GET", "/stream?bytes=1000000")
    eq("status", res.status_code, 200)
    eq("transfer-encoding", header(res, "transfer-encoding"), "chunked")
    eq("body", body, pattern(1_000_000))
    client.next_cycle()
    _, res, body = client.request("GET", "/stream?bytes=0")
    eq("empty stream", (res.status_code, body), (200, b""))


@h11_check("h11: Expect: 100-continue gets 100 before the body is sent")
def h11_expect_continue(client):
    data = pattern(200_000)
    headers = [("Content-Type", "application/octet-stream"), ("Expect", "100-continue")]
    client.start("POST", "/echo", headers, [("Content-Length", str(len(data)))])
    first = client.next_event()  # nothing of the body has been sent yet
    ok(f"100 Continue first (got {first!r})", isinstance(first, h11.InformationalResponse))
    eq("informational status", first.status_code, 100)
    client.send(h11.Data(data=data))
    client.send(h11.EndOfMessage())
    _, res, body = client.finish()
    eq("status", res.status_code, 200)
    eq("echoed body", body, data)


@h11_check("h11: Expect: 100-continue to a handler that never reads the body")
def h11_expect_unread(client):
    headers = [("Content-Type", "text/plain"), ("Expect", "100-continue")]
    client.start("POST", "/test", headers, [("Content-Length", "5")])
    res = client.next_event()  # the body is never sent: the server must answer without it
    ok(f"a final response, no 100 (got {res!r})", isinstance(res, h11.Response))
    eq("status", res.status_code, 200)
    # The client still owes the body it announced: the server cannot reuse the connection.
    eq("connection header", (header(res, "connection") or "").lower(), "close")
    body, event = bytearray(), None
    while not isinstance(event, h11.EndOfMessage):
        event = client.next_event()
        if isinstance(event, h11.Data):
            body += event.data
    eq("body", bytes(body), TEST_PAGE)
    eq("server closed the socket", client.sock.recv(1), b"")


@h11_check("h11: pipelined requests are answered in order")
def h11_pipelined(client):
    # h11 sends one request at a time: all three go out in one write before any response is
    # read; h11 is then told of each in turn (its bytes already sent) and parses the replies.
    host = [("Host", f"{client.host}:{client.port}")]
    targets = ["/test", "/", "/form"]
    head = "GET {} HTTP/1.1\r\nHost: " + f"{client.host}:{client.port}\r\n\r\n"
    wire = "".join(head.format(target) for target in targets).encode()
    client.sock.sendall(wire)
    bodies = []
    for i, target in enumerate(targets):
        if i:
            client.next_cycle()
        client.conn.send(h11.Request(method="GET", target=target, headers=host))  # already sent
        client.conn.send(h11.EndOfMessage())
        _, res, body = client.finish()
        eq(f"response {i} status", res.status_code, 200)
        eq(f"response {i} index", header(res, "x-request-index"), str(i))
        bodies.append(body)
    eq("bodies in order", bodies[:2], [TEST_PAGE, MAIN_PAGE])
    ok("third is the form page", b"<h1>A form</h1>" in bodies[2])


@h11_check("h11: Connection: close is honoured (server closes after the reply)")
def h11_close(client):
    _, res, body = client.request("GET", "/test", [("Connection", "close")])
    eq("reply", (res.status_code, body), (200, TEST_PAGE))
    eq("connection header", (header(res, "connection") or "").lower(), "close")
    eq("server state", client.conn.their_state, h11.MUST_CLOSE)
    eq("server closed the socket", client.sock.recv(1), b"")


# --- the runner --------------------------------------------------------------------------


def main():
    global BASE
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "debug", "examples", "httpd")
    server = None
    if target.startswith("http://"):
        BASE = target.rstrip("/")
    else:
        server = Httpd(target)
        BASE = server.url
    print(f"interop_server: checking courier's httpd example at {BASE}", flush=True)
    passed = failed = 0
    try:
        for name, function in CHECKS:
            try:
                function()
            except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
                failed += 1
                frames = traceback.extract_tb(error.__traceback__)
                where = [frame for frame in frames if frame.name not in ("eq", "ok")][-1]
                print(f"FAIL {name}: {type(error).__name__}: {error} (line {where.lineno})", flush=True)
            else:
                passed += 1
                print(f"ok   {name}", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
