#!/usr/bin/env python3
"""Interop checks of courier's WebSocket server (src/ws) with a client nobody here wrote:
Python's `websockets` library (asyncio client), plus raw-socket checks with hand-built
(masked) frames for what that library won't send (bad handshakes, protocol errors).

The server under test is the `ws_echo` example (examples/ws_echo.rs), started twice: once
plain (each TCP connection goes through `WebSocketServer::establish`) and once with
`--route` (the bundled HTTP server upgrades via `WebSocketServer::upgrade`):

    cargo build --example ws_echo
    python3 scripts/interop_ws.py target/debug/examples/ws_echo

Needs `websockets` (python3 -m pip install websockets; written against 15+, checked with
17.4). Prints `ok NAME` / `FAIL NAME: why` per check and a final `N passed, M failed`;
exits 1 if any check failed. Every check is bounded by a timeout, and the servers are
killed at exit.
"""

import asyncio
import atexit
import base64
import hashlib
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import websockets
from websockets.asyncio.client import connect

TIMEOUT = 15  # seconds for one check
BIG_TIMEOUT = 60  # seconds for the checks moving tens of MiB through a debug build
MAX_MESSAGE = 64 << 20  # what ws_echo accepts
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Opcodes (RFC 6455 §5.2).
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class CheckFailed(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


def short(data, limit=80):
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} long)"


# ---------------------------------------------------------------------------------------
# Servers


SERVERS = []


def kill_servers():
    for proc in SERVERS:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(kill_servers)


def on_sigterm(signum, _frame):
    """A SIGTERM (CI cancelling the job) still kills the servers."""
    kill_servers()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, on_sigterm)


def start_server(binary, args, stderr_file):
    """Starts ws_echo and returns (process, host, port) from its first stdout line."""
    proc = subprocess.Popen(
        [binary, *args], stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL
    )
    SERVERS.append(proc)
    deadline = time.monotonic() + TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"{binary} {' '.join(args)}: no `listening on` line in {TIMEOUT}s")
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            byte = os.read(proc.stdout.fileno(), 1)
            if not byte:
                raise RuntimeError(f"{binary} {' '.join(args)}: exited before announcing its port")
            line += byte
    text = line.decode().strip()
    prefix = "listening on ws://"
    if not text.startswith(prefix):
        raise RuntimeError(f"unexpected first line: {text!r}")
    host, _, port = text[len(prefix) :].rpartition(":")
    return proc, host, int(port)


# ---------------------------------------------------------------------------------------
# Raw-socket helpers


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_value(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake_request(host, port, path="/", key=None, method="GET", version="13", extra=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, declared_length=None):
    """A client frame; `declared_length` puts another length in the header than the
    payload's (the payload is then sent as given, masked if `mask`)."""
    length = len(payload) if declared_length is None else declared_length
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head.append(mask_bit | length)
    elif length < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(head) + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Raw:
    """A TCP connection with a deadline; reads an HTTP response head, then server frames."""

    def __init__(self, host, port, timeout=None):
        timeout = TIMEOUT if timeout is None else timeout
        self.deadline = time.monotonic() + timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        """Reads more into the buffer; False at EOF. Raises CheckFailed at the deadline."""
        if self.eof:
            return False
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(f"timed out; got so far {short(self.buffer)}")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise CheckFailed(f"timed out; got so far {short(self.buffer)}") from None
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _take(self, n):
        while len(self.buffer) < n:
            if not self._fill():
                raise CheckFailed(f"connection ended after {short(self.buffer)}; wanted {n} bytes")
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_response(self):
        """(status code, status line, {lowercased header name: [values]})."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise CheckFailed(f"connection ended before a complete response head: {short(self.buffer)}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0]
        parts = status_line.split(" ", 2)
        expect(len(parts) >= 2 and parts[0] == "HTTP/1.1" and parts[1].isdigit(),
               f"bad status line {status_line!r}")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            expect(colon and name and name == name.strip(), f"bad header line {line!r}")
            headers.setdefault(name.lower(), []).append(value.strip())
        return int(parts[1]), status_line, headers

    def read_frame(self):
        """(fin, rsv, opcode, payload) of one server frame (which must not be masked)."""
        b0, b1 = self._take(2)
        fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        expect(not b1 & 0x80, "server frame is masked")
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
            expect(length < 1 << 63, "64-bit length with the top bit set")
        return fin, rsv, opcode, self._take(length)

    def read_message(self):
        """(opcode, payload) of the next data message, answering nothing; control frames
        other than close are skipped; a close frame is returned as (CLOSE, payload)."""
        opcode, parts = None, []
        while True:
            fin, rsv, op, payload = self.read_frame()
            expect(rsv == 0, f"server frame with reserved bits {rsv}")
            if op == CLOSE:
                return CLOSE, payload
            if op in (PING, PONG):
                continue
            if opcode is None:
                expect(op in (TEXT, BINARY), f"message starts with opcode {op}")
                opcode = op
            else:
                expect(op == CONT, f"opcode {op} in the middle of a fragmented message")
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def expect_eof(self, what):
        """The server closes the TCP connection (EOF or reset) with nothing more sent."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            return
        except CheckFailed:
            raise CheckFailed(f"{what}: the server did not close the TCP connection") from None
        expect(not self.buffer, f"{what}: bytes after it: {short(self.buffer)}")

    def expect_close(self, code, what):
        """The next frame is a close frame with `code`, then the TCP connection ends."""
        try:
            op, payload = self.read_message()
        except ConnectionResetError:
            raise CheckFailed(f"{what}: connection reset instead of a close frame {code}") from None
        expect(op == CLOSE, f"{what}: got a data message {short(payload)} instead of close {code}")
        expect(len(payload) >= 2, f"{what}: close frame without a code ({short(payload)})")
        (got,) = struct.unpack("!H", payload[:2])
        expect(got == code, f"{what}: close code {got} (reason {payload[2:]!r}), wanted {code}")
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise CheckFailed(f"{what}: close reason is not UTF-8: {payload[2:]!r}") from None
        self.expect_eof(f"{what}: after close {code}")


def open_raw(host, port, path="/raw"):
    """A raw connection past a checked 101."""
    raw = Raw(host, port)
    key = new_key()
    raw.send(handshake_request(host, port, path, key))
    status, line, headers = raw.read_response()
    expect(status == 101, f"handshake answered {line!r}")
    expect(headers.get("sec-websocket-accept") == [accept_value(key)],
           f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')}")
    return raw


# ---------------------------------------------------------------------------------------
# Checks with the websockets library (async; each takes the ws:// URL)


def client(url, **kwargs):
    kwargs.setdefault("ping_interval", None)  # no keepalive pings mixed into the checks
    kwargs.setdefault("open_timeout", TIMEOUT)
    kwargs.setdefault("close_timeout", 5)
    kwargs.setdefault("proxy", None)
    return connect(url, **kwargs)


async def echo_one(ws, message):
    await ws.send(message)
    reply = await ws.recv()
    expect(type(reply) is type(message), f"sent {type(message).__name__}, got back {type(reply).__name__}")
    expect(reply == message, f"sent {short(message)}, got back {short(reply)}")


async def check_text_echo(url):
    async with client(url + "/text") as ws:
        await echo_one(ws, "Hello, WebSocket!")
        await echo_one(ws, "grüße, 日本語, emoji 🦀🎉, ∑ ≠ ∞, \u0000 and \U0010FFFF")


async def check_binary_echo(url):
    async with client(url) as ws:
        await echo_one(ws, bytes(range(256)))
        await echo_one(ws, bytes(range(255, -1, -1)) * 3)


async def check_empty_messages(url):
    async with client(url) as ws:
        await echo_one(ws, "")
        await echo_one(ws, b"")
        await echo_one(ws, "after the empty ones")


async def big_echo(url, size):
    payload = os.urandom(size)
    async with client(url, max_size=size + 1024, compression=None) as ws:
        await ws.send(payload)
        reply = await ws.recv()
    expect(isinstance(reply, bytes), f"got back {type(reply).__name__}")
    expect(len(reply) == size, f"sent {size} bytes, got back {len(reply)}")
    expect(reply == payload, "the echo differs from what was sent")


async def check_1mib(url):
    await big_echo(url, 1 << 20)


async def check_20mib(url):
    await big_echo(url, 20 << 20)


async def check_fragmented_text(url):
    async with client(url) as ws:
        fragments = ["frag", "mented ", "", "tëxt ", "🦀"]
        await ws.send(fragments)
        reply = await ws.recv()
        expect(reply == "".join(fragments), f"got back {short(reply)}")


async def check_fragmented_binary(url):
    async with client(url) as ws:
        fragments = [bytes([i]) * (i * 1000 + 1) for i in range(10)]
        await ws.send(fragments)
        reply = await ws.recv()
        expect(reply == b"".join(fragments), f"got back {short(reply)}")
        await echo_one(ws, "and a message after it")


async def check_order(url):
    async with client(url) as ws:
        messages = [f"message {i}" if i % 2 else f"binary {i}".encode() for i in range(100)]
        for message in messages:
            await ws.send(message)
        for i, message in enumerate(messages):
            reply = await ws.recv()
            expect(reply == message, f"reply {i} is {short(reply)}, wanted {short(message)}")


async def check_ping(url):
    async with client(url) as ws:
        pong = await ws.ping(b"are you there")
        latency = await asyncio.wait_for(pong, TIMEOUT / 2)
        expect(latency >= 0, f"latency {latency}")
        pong = await ws.ping()  # empty ping
        await asyncio.wait_for(pong, TIMEOUT / 2)
        await echo_one(ws, "still echoing after pings")


async def check_close(url):
    async with client(url, close_timeout=8) as ws:
        await echo_one(ws, "before closing")
        started = time.monotonic()
        await ws.close(1000, "bye now")
        elapsed = time.monotonic() - started
        received = ws.protocol.close_rcvd
        expect(received is not None, "no close frame received from the server")
        expect(received.code == 1000, f"server's close code {received.code}")
        expect(ws.close_code == 1000, f"close_code {ws.close_code}")
        # websockets waits for the server to end TCP, closing itself only after close_timeout.
        expect(elapsed < 5, f"close() took {elapsed:.1f}s: the server did not end the TCP connection")
        await asyncio.wait_for(ws.wait_closed(), 5)
        expect(ws.transport.is_closing(), "transport still open")


async def check_subprotocol(url):
    async with client(url, subprotocols=["chat", "superchat"]) as ws:
        expect(ws.subprotocol is None, f"server chose subprotocol {ws.subprotocol!r}")
        expect(ws.response.headers.get("Sec-WebSocket-Protocol") is None,
               f"Sec-WebSocket-Protocol: {ws.response.headers.get('Sec-WebSocket-Protocol')}")
        await echo_one(ws, "works without a subprotocol")


async def check_no_extension(url):
    # websockets offers permessage-deflate by default; the server must decline it.
    async with client(url, compression="deflate") as ws:
        expect(ws.response.headers.get("Sec-WebSocket-Extensions") is None,
               f"server accepted extensions {ws.response.headers.get('Sec-WebSocket-Extensions')}")
        await echo_one(ws, "uncompressed " * 50)


# ---------------------------------------------------------------------------------------
# Raw-socket checks (sync; each takes host, port and is bounded by its socket deadline)


def refusal(host, port, request, status, what):
    with Raw(host, port) as raw:
        raw.send(request)
        got, line, headers = raw.read_response()
        expect(got == status, f"{what}: answered {line!r}, wanted {status}")
        return headers


def check_refuse_version8(host, port):
    headers = refusal(host, port, handshake_request(host, port, key=new_key(), version="8"), 426,
                      "version 8")
    expect(headers.get("sec-websocket-version") == ["13"],
           f"Sec-WebSocket-Version {headers.get('sec-websocket-version')}, wanted ['13']")
    expect("sec-websocket-accept" not in headers, "a refusal with Sec-WebSocket-Accept")


def check_refuse_no_version(host, port):
    headers = refusal(host, port, handshake_request(host, port, key=new_key(), version=None), 426,
                      "no version")
    expect(headers.get("sec-websocket-version") == ["13"],
           f"Sec-WebSocket-Version {headers.get('sec-websocket-version')}, wanted ['13']")


def check_refuse_no_key(host, port):
    refusal(host, port, handshake_request(host, port, key=None), 400, "no key")


def check_refuse_bad_key(host, port):
    short_key = base64.b64encode(b"short").decode()
    refusal(host, port, handshake_request(host, port, key=short_key), 400, "key of 5 bytes")


def check_refuse_post(host, port):
    request = handshake_request(host, port, key=new_key(), method="POST", extra=["Content-Length: 0"])
    refusal(host, port, request, 400, "POST")


def check_refuse_http10(host, port):
    request = handshake_request(host, port, key=new_key()).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    refusal(host, port, request, 400, "HTTP/1.0")


def check_handshake_tokens_case(host, port):
    key = new_key()
    request = handshake_request(host, port, "/a/b?q=1", key).replace(
        b"Upgrade: websocket", b"Upgrade: WebSocket").replace(b"Connection: Upgrade", b"Connection: keep-alive, UPGRADE")
    with Raw(host, port) as raw:
        raw.send(request)
        status, line, headers = raw.read_response()
        expect(status == 101, f"answered {line!r}")
        expect(headers.get("sec-websocket-accept") == [accept_value(key)], "wrong Sec-WebSocket-Accept")
        expect([v.lower() for v in headers.get("upgrade", [])] == ["websocket"], f"Upgrade {headers.get('upgrade')}")
        expect("upgrade" in headers.get("connection", [""])[0].lower(), f"Connection {headers.get('connection')}")
        raw.send(frame(BINARY, b"ok"))
        expect(raw.read_message() == (BINARY, b"ok"), "no echo")


def check_early_data(host, port):
    key = new_key()
    with Raw(host, port) as raw:
        raw.send(handshake_request(host, port, "/early", key) + frame(TEXT, "early bïrd".encode()))
        status, line, headers = raw.read_response()
        expect(status == 101, f"handshake answered {line!r}")
        expect(headers.get("sec-websocket-accept") == [accept_value(key)], "wrong Sec-WebSocket-Accept")
        op, payload = raw.read_message()
        expect((op, payload) == (TEXT, "early bïrd".encode()), f"got {op} {short(payload)}")
        raw.send(frame(CLOSE, close_payload(1000)))
        raw.expect_close(1000, "normal close")


def check_raw_close(host, port):
    with open_raw(host, port) as raw:
        raw.send(frame(BINARY, b"\x00\x01"))
        expect(raw.read_message() == (BINARY, b"\x00\x01"), "no echo")
        raw.send(frame(CLOSE, close_payload(1000, "bye".encode())))
        raw.expect_close(1000, "close 1000")


def check_utf8_split_across_fragments(host, port):
    crab = "🦀".encode()
    with open_raw(host, port) as raw:
        raw.send(frame(TEXT, b"x" + crab[:1], fin=False) + frame(CONT, crab[1:3], fin=False) + frame(CONT, crab[3:]))
        got = raw.read_message()
        expect(got == (TEXT, b"x" + crab), f"got {got}")


def check_ping_inside_fragmented(host, port):
    with open_raw(host, port) as raw:
        raw.send(frame(TEXT, b"ab", fin=False) + frame(PING, b"mid") + frame(CONT, b"cd"))
        pong = raw.read_frame()
        expect(pong == (True, 0, PONG, b"mid"), f"first frame {pong}, wanted the pong")
        got = raw.read_message()
        expect(got == (TEXT, b"abcd"), f"got {got}")


def protocol_error(host, port, data, code, what):
    with open_raw(host, port) as raw:
        raw.send(data)
        raw.expect_close(code, what)


def check_unmasked(host, port):
    protocol_error(host, port, frame(TEXT, b"not masked", mask=False), 1002, "unmasked frame")


def check_reserved_bits(host, port):
    protocol_error(host, port, frame(TEXT, b"rsv1", rsv=4), 1002, "RSV1 set")


def check_reserved_opcode(host, port):
    protocol_error(host, port, frame(0x3, b"opcode 3"), 1002, "opcode 3")


def check_invalid_utf8(host, port):
    protocol_error(host, port, frame(TEXT, b"valid \xce\xba then \xff\xfe bad"), 1007, "invalid UTF-8")


def check_invalid_utf8_fragmented(host, port):
    data = frame(TEXT, "fine ".encode(), fin=False) + frame(CONT, b"\xed\xa0\x80", fin=True)
    protocol_error(host, port, data, 1007, "surrogate in a continuation")


def check_too_big(host, port):
    # Only the header, announcing 65 MiB (64-bit length), with its masking key.
    head = frame(TEXT, b"", declared_length=65 << 20)
    expect(len(head) == 2 + 8 + 4, "test bug: header length")
    protocol_error(host, port, head, 1009, "65 MiB text frame")


def check_close_code_1005(host, port):
    protocol_error(host, port, frame(CLOSE, close_payload(1005)), 1002, "close code 1005")


def check_close_code_999(host, port):
    protocol_error(host, port, frame(CLOSE, close_payload(999)), 1002, "close code 999")


def check_close_payload_1_byte(host, port):
    protocol_error(host, port, frame(CLOSE, b"\x03"), 1002, "close payload of 1 byte")


def check_close_reason_invalid_utf8(host, port):
    protocol_error(host, port, frame(CLOSE, close_payload(1000, b"bad \xff")), 1007, "close reason not UTF-8")


def check_too_big_by_one(host, port):
    protocol_error(host, port, frame(BINARY, b"", declared_length=MAX_MESSAGE + 1), 1009, "64 MiB + 1 binary frame")


ASYNC_CHECKS = [
    ("text echo", check_text_echo, TIMEOUT),
    ("binary echo (256 byte values)", check_binary_echo, TIMEOUT),
    ("empty text and binary", check_empty_messages, TIMEOUT),
    ("1 MiB binary", check_1mib, BIG_TIMEOUT),
    ("20 MiB binary", check_20mib, BIG_TIMEOUT),
    ("fragmented text", check_fragmented_text, TIMEOUT),
    ("fragmented binary", check_fragmented_binary, TIMEOUT),
    ("100 messages in order", check_order, TIMEOUT),
    ("ping gets a pong", check_ping, TIMEOUT),
    ("close 1000 with a reason", check_close, TIMEOUT),
    ("subprotocols offered, none chosen", check_subprotocol, TIMEOUT),
    ("permessage-deflate offered, declined", check_no_extension, TIMEOUT),
]

RAW_CHECKS = [
    ("raw: version 8 -> 426", check_refuse_version8),
    ("raw: no version -> 426", check_refuse_no_version),
    ("raw: no key -> 400", check_refuse_no_key),
    ("raw: key of 5 bytes -> 400", check_refuse_bad_key),
    ("raw: POST -> 400", check_refuse_post),
    ("raw: HTTP/1.0 -> 400", check_refuse_http10),
    ("raw: handshake tokens in other case -> 101", check_handshake_tokens_case),
    ("raw: handshake + frame in one write", check_early_data),
    ("raw: close 1000", check_raw_close),
    ("raw: UTF-8 code point split across fragments", check_utf8_split_across_fragments),
    ("raw: ping inside a fragmented message", check_ping_inside_fragmented),
    ("raw: unmasked frame -> 1002", check_unmasked),
    ("raw: reserved bits -> 1002", check_reserved_bits),
    ("raw: reserved opcode -> 1002", check_reserved_opcode),
    ("raw: invalid UTF-8 -> 1007", check_invalid_utf8),
    ("raw: invalid UTF-8 across fragments -> 1007", check_invalid_utf8_fragmented),
    ("raw: 65 MiB text header -> 1009", check_too_big),
    ("raw: 64 MiB + 1 binary header -> 1009", check_too_big_by_one),
    ("raw: close code 1005 -> 1002", check_close_code_1005),
    ("raw: close code 999 -> 1002", check_close_code_999),
    ("raw: close payload of 1 byte -> 1002", check_close_payload_1_byte),
    ("raw: close reason not UTF-8 -> 1007", check_close_reason_invalid_utf8),
]


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name, error):
        if error is None:
            self.passed += 1
            print(f"ok {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {error}", flush=True)


def describe(exc):
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"timed out: {exc}" if str(exc) else "timed out"
    if isinstance(exc, websockets.exceptions.ConnectionClosed):
        return f"connection closed: {exc}"
    tb = traceback.format_exception_only(type(exc), exc)
    return "".join(tb).strip()


def run_mode(label, host, port, results):
    url = f"ws://{host}:{port}"
    for name, check, timeout in ASYNC_CHECKS:
        try:
            asyncio.run(asyncio.wait_for(check(url), timeout))
            error = None
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
            error = describe(exc)
        results.record(f"{label}: {name}", error)
    for name, check in RAW_CHECKS:
        try:
            check(host, port)
            error = None
        except Exception as exc:  # noqa: BLE001
            error = describe(exc)
        results.record(f"{label}: {name}", error)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(f"usage: {sys.argv[0]} PATH_TO_ws_echo_BINARY", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    print(f"websockets {websockets.__version__}", flush=True)
    results = Results()
    logs = []
    for label, args in (("plain", []), ("route", ["--route"])):
        log = tempfile.TemporaryFile()
        logs.append((label, log))
        try:
            proc, host, port = start_server(binary, args, log)
        except Exception as exc:  # noqa: BLE001
            results.record(f"{label}: server starts", describe(exc))
            continue
        run_mode(label, host, port, results)
        if proc.poll() is not None:
            results.record(f"{label}: server still running", f"it exited with {proc.returncode}")
        proc.kill()
        proc.wait()
    if results.failed:
        for label, log in logs:
            log.seek(0)
            text = log.read().decode(errors="replace").strip()
            if text:
                print(f"--- {label} server stderr (last lines):")
                print("\n".join(text.splitlines()[-20:]))
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
