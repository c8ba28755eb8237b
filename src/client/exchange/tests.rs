//! The exchange driven by byte scripts, no sockets: each script is fed whole and then one
//! byte at a time, and both runs must agree (as the codec's tests do).

use super::*;
use crate::client::prepared::UrlArg;
use http::HeaderMap;

fn request(method: &str, headers: &[(&str, &str)], body: &'static [u8]) -> PreparedRequest {
    let url = UrlArg::Parsed(url::Url::parse("http://example.test/p").unwrap());
    let headers =
        headers.iter().map(|(name, value)| (name.to_string(), Some(value.as_bytes().to_vec()))).collect();
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| method.to_owned());
    PreparedRequest::validate(method, &url, headers, &HeaderMap::new(), Bytes::from_static(body)).unwrap()
}

/// An exchange for `request` whose head is the fixed text `HEAD` (the head's own bytes are
/// `request_head`'s business; here only what follows them matters).
fn exchange(request: &PreparedRequest, upload: Option<Option<u64>>, persistent: bool) -> Exchange {
    Exchange::new(Plan::new(request, upload, persistent), b"HEAD".to_vec(), request.body.clone())
}

/// What a run did: its steps, the final status, the body and trailers, whether the
/// connection may be reused (and why not), and the bytes left after the body.
#[derive(Debug, PartialEq)]
struct Run {
    steps: Vec<&'static str>,
    status: u16,
    body: Vec<u8>,
    trailers: Fields,
    close: Option<CloseReason>,
    left: usize,
}

/// Drives `request` against the server's bytes fed in pieces of `piece` bytes: writes
/// always complete, and a `100 Continue` wait ends when the script has nothing more.
fn drive(request: &PreparedRequest, server: &[u8], piece: usize) -> Result<Run, String> {
    let mut x = exchange(request, None, true);
    let mut input = server.chunks(piece.max(1));
    let mut buf = BytesMut::new();
    let mut steps = Vec::new();
    let mut step = x.start();
    let head = loop {
        step = match step {
            Step::WriteHead => {
                steps.push("write head");
                x.head_written(Sent::All)
            }
            Step::AwaitContinue(wait) => {
                assert_eq!(wait, CONTINUE_WAIT);
                steps.push("await 100");
                match next_step(&mut x, &mut buf, &mut input)? {
                    Some(next) => next,
                    None => x.continue_timed_out(),
                }
            }
            Step::SendBody => {
                steps.push("send body");
                x.body_written(Sent::All)
            }
            Step::ReadHead => {
                steps.push("read head");
                match next_step(&mut x, &mut buf, &mut input)? {
                    Some(next) => next,
                    None => return Err(x.closed(&buf).to_string()),
                }
            }
            Step::Head(head) => break head,
        };
    };
    x.body_mode().map_err(|e| e.to_string())?;
    let (body, trailers) = read_body(&mut x, &mut buf, &mut input)?;
    // What the server sent after the body, whether it had arrived yet or not.
    input.for_each(|rest| buf.extend_from_slice(rest));
    Ok(Run {
        steps,
        status: head.status.as_u16(),
        body,
        trailers,
        close: x.close_reason(true),
        left: buf.len(),
    })
}

/// Header fields as text pairs, in order.
type Fields = Vec<(String, String)>;

/// Feeds the script until the exchange has its next step; `None` when the script ran out
/// first (a silent server: the 100-continue wait ends, or the connection closed).
fn next_step<'a>(
    x: &mut Exchange,
    buf: &mut BytesMut,
    input: &mut impl Iterator<Item = &'a [u8]>,
) -> Result<Option<Step>, String> {
    loop {
        if let Some(next) = x.read_head(buf).map_err(|e| e.to_string())? {
            return Ok(Some(next));
        }
        match input.next() {
            Some(bytes) => buf.extend_from_slice(bytes),
            None => return Ok(None),
        }
    }
}

fn read_body<'a>(
    x: &mut Exchange,
    buf: &mut BytesMut,
    input: &mut impl Iterator<Item = &'a [u8]>,
) -> Result<(Vec<u8>, Fields), String> {
    let mut body = Vec::new();
    loop {
        let event = match x.decode(buf).map_err(|e| e.to_string())? {
            Some(event) => event,
            None => match input.next() {
                Some(bytes) => {
                    buf.extend_from_slice(bytes);
                    continue;
                }
                None => {
                    x.decode_eof().map_err(|e| e.to_string())?;
                    x.decode(buf).map_err(|e| e.to_string())?.expect("the end after end of stream")
                }
            },
        };
        match event {
            BodyEvent::Data(data) => body.extend_from_slice(&data),
            BodyEvent::End(trailers) => {
                assert_eq!(x.state, State::Done);
                let trailers = trailers
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
                    .collect();
                return Ok((body, trailers));
            }
        }
    }
}

/// [`drive`] whole and byte by byte; both must agree.
fn both_ways(request: &PreparedRequest, server: &[u8]) -> Result<Run, String> {
    let whole = drive(request, server, server.len());
    let bytewise = drive(request, server, 1);
    assert_eq!(whole, bytewise, "whole and byte-at-a-time disagree");
    whole
}

fn get() -> PreparedRequest {
    request("GET", &[], b"")
}

#[test]
fn a_get_sends_its_head_and_reads_a_length_body() {
    let run = both_ways(&get(), b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").unwrap();
    assert_eq!(run.steps, ["write head", "read head"]);
    assert_eq!((run.status, run.body.as_slice(), run.close, run.left), (200, &b"hello"[..], None, 0));
}

#[test]
fn a_small_body_goes_with_the_head_and_a_large_one_after_it() {
    let small = request("POST", &[], b"abc");
    let x = exchange(&small, None, true);
    assert_eq!(x.head_bytes(), b"HEADabc");
    assert!(x.body_inline());
    assert_eq!(x.inline_body_len(), 3);
    let run = both_ways(&small, b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n").unwrap();
    assert_eq!(run.steps, ["write head", "read head"]);

    static LARGE: [u8; INLINE_BODY_LIMIT + 1] = [b'x'; INLINE_BODY_LIMIT + 1];
    let large = request("PUT", &[], &LARGE);
    let x = exchange(&large, None, true);
    assert_eq!(x.head_bytes(), b"HEAD");
    assert_eq!(x.body().len(), LARGE.len());
    let run = both_ways(&large, b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    assert_eq!(run.steps, ["write head", "send body", "read head"]);
    assert_eq!((run.status, run.close), (204, None));
}

#[test]
fn interim_responses_are_skipped_up_to_the_limit() {
    let script = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n\
                   HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let run = both_ways(&get(), script).unwrap();
    assert_eq!((run.status, run.body.as_slice()), (200, &b"ok"[..]));

    let final_head = b"HTTP/1.1 204 No Content\r\n\r\n";
    let mut at_limit = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM_RESPONSES);
    at_limit.extend_from_slice(final_head);
    assert_eq!(both_ways(&get(), &at_limit).unwrap().status, 204);
    let mut over = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM_RESPONSES + 1);
    over.extend_from_slice(final_head);
    assert_eq!(both_ways(&get(), &over).unwrap_err(), "too many interim (1xx) responses");
}

#[test]
fn expect_100_continue_holds_the_body_back() {
    let post = request("POST", &[("expect", "100-continue")], b"body");
    let x = exchange(&post, None, true);
    assert_eq!(x.head_bytes(), b"HEAD", "the body waits for the go-ahead");
    let go = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    let run = both_ways(&post, go).unwrap();
    assert_eq!(run.steps, ["write head", "await 100", "send body", "read head"]);
    assert_eq!((run.status, run.close), (200, None));

    // A final answer instead: the body is never sent, so the connection cannot be reused.
    let refused = both_ways(&post, b"HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n").unwrap();
    assert_eq!(refused.steps, ["write head", "await 100"]);
    assert_eq!((refused.status, refused.close), (417, Some(CloseReason::AnsweredEarly)));

    // No answer in time: the body goes anyway.
    let mut x = exchange(&post, None, true);
    assert!(matches!(x.head_written(Sent::All), Step::AwaitContinue(_)));
    assert!(matches!(x.continue_timed_out(), Step::SendBody));
    assert!(matches!(x.body_written(Sent::All), Step::ReadHead));

    // Without a body there is nothing to wait for.
    let bare = request("GET", &[("expect", "100-continue")], b"");
    assert_eq!(
        both_ways(&bare, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap().steps,
        ["write head", "read head"]
    );
}

#[test]
fn an_answer_before_the_request_is_sent_ends_the_sending() {
    let upload = request("POST", &[], b"");
    let mut x = exchange(&upload, Some(Some(1000)), true);
    assert!(matches!(x.head_written(Sent::All), Step::SendBody));
    assert!(matches!(x.body_written(Sent::AnsweredEarly), Step::ReadHead));
    let mut buf = BytesMut::from(&b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n"[..]);
    let Some(Step::Head(head)) = x.read_head(&mut buf).unwrap() else { panic!("a head") };
    assert_eq!(head.status, 413);
    assert_eq!(x.decode(&mut buf).unwrap(), Some(BodyEvent::End(HeaderMap::new())));
    assert_eq!(x.close_reason(true), Some(CloseReason::AnsweredEarly));
}

#[test]
fn a_101_is_final_only_for_an_upgrade() {
    let switch =
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\nframes";
    assert_eq!(both_ways(&get(), switch).unwrap_err(), "101 Switching Protocols without an Upgrade request");
    let upgrade = request("GET", &[("upgrade", "websocket"), ("connection", "upgrade")], b"");
    let run = both_ways(&upgrade, switch).unwrap();
    assert_eq!((run.status, run.close, run.left), (101, Some(CloseReason::SwitchedProtocols), 6));
}

#[test]
fn chunked_bodies_with_trailers_and_what_follows_them() {
    let script =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\nHTTP/1.1";
    let run = both_ways(&get(), script).unwrap();
    assert_eq!(run.body, b"hello");
    assert_eq!(run.trailers, [("x-sum".to_owned(), "5".to_owned())]);
    // The bytes after the body stay for the pool, which refuses to reuse the connection.
    assert_eq!((run.close, run.left), (None, 8));
}

#[test]
fn which_bodies_end_where() {
    // HEAD: the head states a length that never comes.
    let head = request("HEAD", &[], b"");
    let run = both_ways(&head, b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n").unwrap();
    assert_eq!((run.body.len(), run.close), (0, None));
    // No framing: the body runs to the end of the connection, which is then not reusable.
    let run = both_ways(&get(), b"HTTP/1.1 200 OK\r\n\r\nall of it").unwrap();
    assert_eq!((run.body.as_slice(), run.close), (&b"all of it"[..], Some(CloseReason::CloseDelimited)));
    // Cut short.
    assert_eq!(
        both_ways(&get(), b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc").unwrap_err(),
        "invalid response body: connection closed before the body was complete"
    );
    // Framing that cannot be trusted.
    let smuggle = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n";
    assert_eq!(
        both_ways(&get(), smuggle).unwrap_err(),
        "invalid response framing: both Content-Length and Transfer-Encoding present"
    );
    let mut x = exchange(&get(), None, true);
    x.head_written(Sent::All);
    let mut buf = BytesMut::from(&smuggle[..]);
    assert!(matches!(x.read_head(&mut buf), Ok(Some(Step::Head(_)))));
    assert_eq!(x.state, State::Done, "nothing more is read");
}

#[test]
fn a_connection_is_reused_only_after_a_clean_complete_exchange() {
    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    let close = |request: &PreparedRequest, script: &[u8]| both_ways(request, script).unwrap().close;
    assert_eq!(close(&get(), ok), None);
    assert_eq!(
        close(&get(), b"HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n"),
        Some(CloseReason::ServerSaidClose)
    );
    assert_eq!(close(&get(), b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"), Some(CloseReason::Http10));
    assert_eq!(
        close(&get(), b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n"),
        None
    );
    let closing = request("GET", &[("connection", "TE, close")], b"");
    assert_eq!(close(&closing, ok), Some(CloseReason::RequestSaidClose));

    let mut x = exchange(&get(), None, false);
    x.head_written(Sent::All);
    let mut buf = BytesMut::from(&ok[..]);
    x.read_head(&mut buf).unwrap();
    assert_eq!(x.close_reason(true), Some(CloseReason::NotPersistent));
    assert_eq!(x.close_reason(false), Some(CloseReason::BodyNotRead));
}

#[test]
fn a_connection_closed_around_the_head() {
    assert_eq!(both_ways(&get(), b"").unwrap_err(), "connection closed before the response head");
    assert_eq!(
        both_ways(&get(), b"HTTP/1.1 20").unwrap_err(),
        "connection closed in the middle of the response head"
    );
    assert_eq!(
        both_ways(&get(), b"HTTP/1.1 abc\r\n\r\n").unwrap_err(),
        "invalid response head: malformed message head: invalid status line"
    );
}

#[test]
fn streamed_bodies_are_framed_and_held_to_their_length() {
    let post = request("POST", &[], b"");
    let mut chunked = exchange(&post, Some(None), true);
    assert_eq!(chunked.encode(b"abc").unwrap(), b"3\r\nabc\r\n");
    assert_eq!(chunked.encode(b"").unwrap(), b"");
    assert_eq!(chunked.finish_body().unwrap(), b"0\r\n\r\n");

    let mut sized = exchange(&post, Some(Some(5)), true);
    assert_eq!(sized.encode(b"abc").unwrap(), b"abc");
    assert_eq!(
        sized.encode(b"def").unwrap_err().to_string(),
        "the request body is longer than its declared 5 bytes"
    );
    assert_eq!(
        sized.finish_body().unwrap_err().to_string(),
        "the request body ended after 3 of its declared 5 bytes"
    );
    assert_eq!(sized.encode(b"de").unwrap(), b"de");
    assert_eq!(sized.finish_body().unwrap(), b"");
}

#[test]
fn a_stale_connection_is_retried_once_and_only_when_safe() {
    let stale = Error::new(ErrorKind::ResponseHead, "connection closed before the response head");
    let timeout = Error::new(ErrorKind::ResponseHead, "read response head")
        .with_source(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    let mut x = exchange(&get(), None, true);
    x.head_written(Sent::All);
    assert!(!x.retry_stale(&stale, false, true), "a new connection is not stale");
    assert!(!x.retry_stale(&stale, true, false), "bytes came back");
    assert!(!x.retry_stale(&timeout, true, true), "a timeout is not a stale connection");
    assert!(x.retry_stale(&stale, true, true));
    assert_eq!(x.state, State::SendHead);
    assert!(!x.retry_stale(&stale, true, true), "once");

    let mut post = exchange(&request("POST", &[], b"x"), None, true);
    assert!(!post.retry_stale(&stale, true, true), "not idempotent");
    let mut upload = exchange(&request("PUT", &[], b""), Some(None), true);
    assert!(!upload.retry_stale(&stale, true, true), "a streamed body cannot be sent twice");
}

#[test]
fn failures_say_which_phase_they_struck_in() {
    let cause = || io::Error::new(io::ErrorKind::TimedOut, "deadline of 1s exceeded");
    let post = request("POST", &[("expect", "100-continue")], b"body");
    let mut x = exchange(&post, None, true);
    assert_eq!(x.expired(cause()).kind(), ErrorKind::Send);
    x.head_written(Sent::All);
    assert_eq!(x.state, State::AwaitContinue);
    assert_eq!(x.expired(cause()).kind(), ErrorKind::Send, "the body has not gone out");
    assert_eq!(x.read_error(cause()).kind(), ErrorKind::ResponseHead);
    x.continue_timed_out();
    x.body_written(Sent::All);
    assert_eq!(x.expired(cause()).to_string(), "read response head: deadline of 1s exceeded");
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"[..]);
    x.read_head(&mut buf).unwrap();
    assert_eq!(x.state, State::Body);
    assert_eq!(x.expired(cause()).kind(), ErrorKind::ResponseBody);
    assert_eq!(x.write_error(cause()).to_string(), "send request: deadline of 1s exceeded");
}

#[test]
fn only_a_final_head_ends_an_upload_early() {
    assert!(!final_head_buffered(b""));
    assert!(!final_head_buffered(b"HTTP/1.1 100 Continue\r\n\r\n"));
    assert!(!final_head_buffered(b"HTTP/1.1 413 Content Too Large\r\n"));
    assert!(final_head_buffered(b"HTTP/1.1 413 Content Too Large\r\n\r\n"));
}

#[test]
fn after_the_head_retry_then_redirect_then_deliver() {
    let response = |script: &[u8]| h1::parse_response_head(script).unwrap().unwrap().0;
    let after_head = |head: &ResponseHead, pause, follow, streamed| {
        super::after_head(head.status, &head.headers, pause, follow, streamed)
    };
    let moved = response(b"HTTP/1.1 302 Found\r\nlocation: /next\r\n\r\n");
    let pause = Duration::from_millis(250);
    assert_eq!(after_head(&moved, Some(pause), true, false).unwrap(), Outcome::Retry(pause));
    assert_eq!(after_head(&moved, None, true, false).unwrap(), Outcome::Redirect("/next".into()));
    assert_eq!(after_head(&moved, None, false, false).unwrap(), Outcome::Deliver, "redirects used up");
    assert_eq!(after_head(&moved, None, true, true).unwrap(), Outcome::Redirect("/next".into()));
    let keeps_body = response(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /next\r\n\r\n");
    assert_eq!(
        after_head(&keeps_body, None, true, true).unwrap(),
        Outcome::Deliver,
        "a streamed body is gone"
    );
    let nowhere = response(b"HTTP/1.1 301 Moved Permanently\r\n\r\n");
    assert_eq!(after_head(&nowhere, None, true, false).unwrap(), Outcome::Deliver);
    let torn = response(b"HTTP/1.1 301 Moved Permanently\r\nlocation: /a\r\nlocation: /b\r\n\r\n");
    assert_eq!(after_head(&torn, None, true, false).unwrap_err().to_string(), "conflicting Location headers");
    assert_eq!(
        after_head(&response(b"HTTP/1.1 200 OK\r\n\r\n"), None, true, false).unwrap(),
        Outcome::Deliver
    );
}
