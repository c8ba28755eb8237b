#![cfg(feature = "server")]
//! Form handling of the bundled server: query, urlencoded and multipart params, files, limits.

mod support;
use support::within;

use courier::server::{FormError, FormLimits, Part, Reply, Request, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const URLENCODED: &str = "application/x-www-form-urlencoded";

/// `name=value` lines for every param, then what `get` and `get_all` say about `a`.
async fn echo_params(req: Request) -> Result<Reply, FormError> {
    let params = req.params().await?;
    let mut out = String::new();
    for (name, value) in &params {
        out += &format!("{name}={value}\n");
    }
    out += &format!("get(a)={:?} all(a)={:?} len={}\n", params.get("a"), params.get_all("a"), params.len());
    Ok(Reply::text(out))
}

/// One line per part: name, filename, content type, then the data as escaped bytes.
fn describe(parts: &[Part]) -> String {
    let mut out = String::new();
    for part in parts {
        out += &format!(
            "name={:?} filename={:?} type={:?} file={} data={:?}\n",
            part.name,
            part.filename,
            part.content_type,
            part.is_file(),
            part.data
        );
    }
    out
}

async fn echo_parts(req: Request) -> Result<Reply, FormError> {
    Ok(Reply::text(describe(&req.multipart().await?)))
}

async fn start() -> Server {
    Server::builder()
        .route("/params", echo_params)
        .route("/parts", echo_parts)
        .route("/count", |req| async move {
            let parts = req.multipart().await?;
            Ok::<_, FormError>(Reply::text(format!("{} parts\n", parts.len())))
        })
        .route("/small", |req| async move {
            let parts = req.multipart_with(&FormLimits::new().max_part_size(1024)).await?;
            Ok::<_, FormError>(Reply::text(describe(&parts)))
        })
        .route("/twice", |req| async move {
            // The body read first is still there for the multipart parser and for params.
            let body = req.body().await?;
            let parts = req.multipart().await?;
            let again = req.multipart().await?;
            let params = req.params().await?;
            let same = parts == again;
            Ok::<_, FormError>(Reply::text(format!(
                "{} bytes, same={same}, params={:?}\n{}",
                body.len(),
                params.as_slice(),
                describe(&parts)
            )))
        })
        .start()
        .await
        .unwrap()
}

/// A multipart body: `(headers, data)` per part, each part's headers given whole.
fn multipart(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (headers, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn text_field(name: &str) -> String {
    format!("Content-Disposition: form-data; name=\"{name}\"")
}

/// Binary file content: NUL, high bytes, a CRLF and something that almost looks like the
/// boundary.
const BINARY: &[u8] = b"\x00\x01\xff\xfe\r\n--XYZ\r\n--BOUNDAR\r\nend\r\n";

fn upload_body() -> Vec<u8> {
    let photo =
        "Content-Disposition: form-data; name=\"photo\"; filename=\"me.png\"\r\nContent-Type: image/png";
    let notes = "Content-Disposition: form-data; name=\"notes\"; filename=\"notes.txt\"\r\nContent-Type: text/plain; charset=utf-8";
    multipart(
        "BOUNDARY",
        &[
            (&text_field("a"), b"first"),
            (photo, BINARY),
            (&text_field("title"), "two\r\nlines \u{e9}".as_bytes()),
            (notes, b"line 1\r\nline 2\r\n"),
            (&text_field("a"), b""),
        ],
    )
}

const UPLOAD_PARTS: &str = concat!(
    "name=Some(\"a\") filename=None type=None file=false data=b\"first\"\n",
    "name=Some(\"photo\") filename=Some(\"me.png\") type=Some(\"image/png\") file=true ",
    "data=b\"\\0\\x01\\xff\\xfe\\r\\n--XYZ\\r\\n--BOUNDAR\\r\\nend\\r\\n\"\n",
    "name=Some(\"title\") filename=None type=None file=false data=b\"two\\r\\nlines \\xc3\\xa9\"\n",
    "name=Some(\"notes\") filename=Some(\"notes.txt\") type=Some(\"text/plain; charset=utf-8\") file=true ",
    "data=b\"line 1\\r\\nline 2\\r\\n\"\n",
    "name=Some(\"a\") filename=None type=None file=false data=b\"\"\n",
);

const MULTIPART: &str = "multipart/form-data; boundary=BOUNDARY";

/// Sends raw bytes on a fresh connection and reads until the server closes it; the
/// status line and the body (everything after the head).
async fn raw(server: &Server, request: &[u8]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    split_response(&response)
}

fn split_response(response: &[u8]) -> (String, Vec<u8>) {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let status = head.split("\r\n").next().unwrap().to_owned();
    (status, response[head_end..].to_vec())
}

/// A request with `body` sent chunked, in pieces of `piece` bytes.
fn chunked(target: &str, content_type: &str, body: &[u8], piece: usize) -> Vec<u8> {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(piece) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[tokio::test]
async fn query_params_decode_both_separators_plus_and_escapes() {
    within(async {
        let server = start().await;
        let res =
            courier::get(server.url("/params?a=1;b=two+words&c=%41%42&a=%E2%9C%93&empty=&flag&sp=%20%2B+"))
                .send()
                .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(
            res.text(),
            "a=1\nb=two words\nc=AB\na=\u{2713}\nempty=\nflag=\nsp= + \n\
             get(a)=Some(\"1\") all(a)=[\"1\", \"\u{2713}\"] len=7\n"
        );
        let res = courier::get(server.url("/params")).send().await;
        assert_eq!(res.text(), "get(a)=None all(a)=[] len=0\n");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn urlencoded_body_params_follow_the_query_params_in_order() {
    within(async {
        let server = start().await;
        let res = courier::post(server.url("/params?q=1&a=query")).body("a=body+one;y=c%2Bd&a=%26%3D&z")
            .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(
            res.text(),
            "q=1\na=query\na=body one\ny=c+d\na=&=\nz=\n\
             get(a)=Some(\"query\") all(a)=[\"query\", \"body one\", \"&=\"] len=6\n"
        );
        // Invalid UTF-8 (raw or escaped) reads as U+FFFD; the media type is case-insensitive.
        let res = courier::post(server.url("/params")).body(&b"a=%FF\xfe&b=%C3%A9"[..])
            .header("content-type", "Application/X-WWW-Form-Urlencoded")
            .send()
            .await;
        assert_eq!(
            res.text(),
            "a=\u{fffd}\u{fffd}\nb=\u{e9}\nget(a)=Some(\"\u{fffd}\u{fffd}\") all(a)=[\"\u{fffd}\u{fffd}\"] len=2\n"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn urlencoded_params_are_capped() {
    within(async {
        let server = Server::builder()
            .route("/", |req| async move {
                let params = req.params_with(&FormLimits::new().max_params(3)).await?;
                Ok::<_, FormError>(Reply::text(format!("{}\n", params.len())))
            })
            .start()
            .await
            .unwrap();
        let form = |body: &'static str| {
            courier::post(server.url("/?q=1&r=2")).body(body).header("content-type", URLENCODED)
        };
        let res = form("a=1&b=2&c=3").send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "5\n"));
        let res = form("a=1&b=2&c=3&d=4").send().await;
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.text(), "413 Payload Too Large: more than 3 parameters in the form body\n");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn multipart_text_fields_and_files_arrive_exactly() {
    within(async {
        let server = start().await;
        let res = courier::post(server.url("/parts"))
            .body(upload_body())
            .header("content-type", MULTIPART)
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(res.text(), UPLOAD_PARTS);
        // The same body in tiny chunks (boundaries split across them) parses the same.
        for piece in [1, 2, 7, 64] {
            let (status, body) = raw(&server, &chunked("/parts", MULTIPART, &upload_body(), piece)).await;
            assert_eq!(status, "HTTP/1.1 200 OK", "pieces of {piece}");
            assert_eq!(String::from_utf8(body).unwrap(), UPLOAD_PARTS, "pieces of {piece}");
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn multipart_headers_and_quoted_boundaries() {
    within(async {
        let server = start().await;
        let headers = "content-disposition: form-data; name=\"doc\"; filename=\"a b.txt\"\r\n\
                       content-type: text/plain\r\nx-extra: 1";
        let body = multipart("a'b(c)+_,-./:=?", &[(headers, b"hi")]);
        let res = courier::post(server.url("/parts"))
            .body(body)
            .header("content-type", "Multipart/Form-Data; boundary=\"a'b(c)+_,-./:=?\"")
            .send()
            .await;
        assert_eq!(
            res.text(),
            "name=Some(\"doc\") filename=Some(\"a b.txt\") type=Some(\"text/plain\") file=true data=b\"hi\"\n"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn params_take_multipart_text_fields_but_not_files() {
    within(async {
        let server = start().await;
        let res = courier::post(server.url("/params?a=query&q=%3F"))
            .body(upload_body())
            .header("content-type", MULTIPART)
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(
            res.text(),
            "a=query\nq=?\na=first\ntitle=two\r\nlines \u{e9}\na=\n\
             get(a)=Some(\"query\") all(a)=[\"query\", \"first\", \"\"] len=5\n"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_body_read_before_is_parsed_again() {
    within(async {
        let server = start().await;
        let body = multipart("b", &[(&text_field("x"), b"1"), (&text_field("y"), b"2")]);
        let length = body.len();
        let res = courier::post(server.url("/twice"))
            .body(body)
            .header("content-type", "multipart/form-data; boundary=b")
            .send()
            .await;
        assert_eq!(
            res.text(),
            format!(
                "{length} bytes, same=true, params=[(\"x\", \"1\"), (\"y\", \"2\")]\n\
                 name=Some(\"x\") filename=None type=None file=false data=b\"1\"\n\
                 name=Some(\"y\") filename=None type=None file=false data=b\"2\"\n"
            )
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn other_content_types_are_415_and_params_ignore_them() {
    within(async {
        let server = start().await;
        let res = courier::post(server.url("/parts")).body("{}").header("content-type", "application/json").send().await;
        assert_eq!(res.status().as_u16(), 415);
        assert_eq!(res.text(), "415 Unsupported Media Type: expected a form, got content type application/json\n");
        let res = courier::post(server.url("/parts")).body("a=1").header("content-type", URLENCODED).send().await;
        assert_eq!(res.status().as_u16(), 415);
        assert_eq!(
            res.text(),
            "415 Unsupported Media Type: expected a form, got content type application/x-www-form-urlencoded\n"
        );
        let res = courier::post(server.url("/parts")).body("a=1").send().await;
        assert_eq!(res.status().as_u16(), 415);
        assert_eq!(res.text(), "415 Unsupported Media Type: expected a form, got no content type\n");
        // params() reads only forms: a JSON body leaves just the query.
        let res = courier::post(server.url("/params?a=1")).body("a=2").header("content-type", "application/json").send().await;
        assert_eq!(res.text(), "a=1\nget(a)=Some(\"1\") all(a)=[\"1\"] len=1\n");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_multipart_is_400() {
    within(async {
        let server = start().await;
        let cases: [(&str, &[u8], &str); 6] = [
            (
                MULTIPART,
                b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno closing boundary",
                "field \"a\" received with incomplete data",
            ),
            (
                MULTIPART,
                b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BOUNDARY\r\n",
                "incomplete multipart stream",
            ),
            ("multipart/form-data", b"--BOUNDARY\r\n\r\n--BOUNDARY--\r\n", "no boundary in the content type"),
            ("multipart/form-data; charset=utf-8", b"x", "no boundary in the content type"),
            (MULTIPART, b"", "incomplete multipart stream"),
            (
                MULTIPART,
                b"--BOUNDARY\r\nno header here\r\n\r\nx\r\n--BOUNDARY--\r\n",
                "failed to read headers",
            ),
        ];
        for (content_type, body, reason) in cases {
            let res = courier::post(server.url("/parts"))
                .body(body)
                .header("content-type", content_type)
                .send()
                .await;
            assert_eq!(res.status().as_u16(), 400, "{content_type} {body:?}");
            assert_eq!(res.text(), format!("400 Bad Request: malformed multipart body: {reason}\n"));
        }
        // The connection survives a malformed body: keep-alive goes on.
        let res = courier::get(server.url("/params?a=1")).send().await;
        assert_eq!(res.status().as_u16(), 200);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn more_parts_than_the_cap_are_refused() {
    within(async {
        let server = start().await;
        let field = text_field("f");
        let at_cap: Vec<(&str, &[u8])> = vec![(field.as_str(), b"x"); courier::server::DEFAULT_MAX_PARTS];
        let res = courier::post(server.url("/count"))
            .body(multipart("B", &at_cap))
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(res.text(), "1000 parts\n");
        let over: Vec<(&str, &[u8])> = vec![(field.as_str(), b"x"); 1_001];
        let res = courier::post(server.url("/count"))
            .body(multipart("B", &over))
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.text(), "413 Payload Too Large: more than 1000 parts in the multipart body\n");
        // Thousands of empty parts fail the same way, quickly.
        let empty: Vec<(&str, &[u8])> = vec![(field.as_str(), b""); 4_000];
        let res = courier::post(server.url("/count"))
            .body(multipart("B", &empty))
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.text(), "413 Payload Too Large: more than 1000 parts in the multipart body\n");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_part_larger_than_the_limit_is_413() {
    within(async {
        let server = start().await;
        let exactly = vec![b'a'; 1024];
        let body = multipart("B", &[(&text_field("big"), &exactly)]);
        let res = courier::post(server.url("/small"))
            .body(body)
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        let over = vec![b'a'; 1025];
        let body = multipart("B", &[(&text_field("small"), b"ok"), (&text_field("big"), &over)]);
        let res = courier::post(server.url("/small"))
            .body(body)
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.text(), "413 Payload Too Large: part \"big\" larger than 1024 bytes\n");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bodies_over_the_server_limit_are_413() {
    within(async {
        let server = Server::builder()
            .max_body_size(1000)
            .route("/parts", echo_parts)
            .route("/params", echo_params)
            .start()
            .await
            .unwrap();
        let big = vec![b'z'; 1200];
        let body = multipart("B", &[(&text_field("f"), &big)]);
        // Announced with Content-Length: refused before any handler runs.
        let res = courier::post(server.url("/parts"))
            .body(body.clone())
            .header("content-type", "multipart/form-data; boundary=B")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 413);
        assert_eq!(res.text(), "413 Payload Too Large: request body larger than 1000 bytes\n");
        // Chunked: the form parser stops at the limit.
        let (status, reply) =
            raw(&server, &chunked("/parts", "multipart/form-data; boundary=B", &body, 100)).await;
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
        assert_eq!(reply, b"413 Payload Too Large: request body too large\n");
        let mut form = b"a=".to_vec();
        form.extend_from_slice(&big);
        let (status, reply) = raw(&server, &chunked("/params", URLENCODED, &form, 100)).await;
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
        assert_eq!(reply, b"413 Payload Too Large: request body too large\n");
        // Just under the limit is fine.
        let small = multipart("B", &[(&text_field("f"), &big[..900])]);
        let (status, reply) =
            raw(&server, &chunked("/parts", "multipart/form-data; boundary=B", &small, 100)).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            reply.len(),
            "name=Some(\"f\") filename=None type=None file=false data=b\"\"\n".len() + 900
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expect_100_continue_uploads_work() {
    within(async {
        let server = start().await;
        let res = courier::post(server.url("/parts"))
            .body(upload_body())
            .header("content-type", MULTIPART)
            .header("expect", "100-continue")
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text());
        assert_eq!(res.text(), UPLOAD_PARTS);

        // On the wire: the server says 100 Continue before any body byte is sent.
        let body = upload_body();
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        let head = format!(
            "POST /parts HTTP/1.1\r\nhost: x\r\ncontent-type: {MULTIPART}\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        stream.write_all(&body).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let (status, reply) = split_response(&response);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(String::from_utf8(reply).unwrap(), UPLOAD_PARTS);
        server.shutdown().await;
    })
    .await;
}
