//! AnyEvent::HTTPD's synopsis rebuilt on courier's bundled server: two linked pages, plus a
//! form, a file upload, a streamed download and an echo.
//!
//! ```text
//! cargo run --example httpd                                # 127.0.0.1 on a free port
//! cargo run --example httpd -- --host 0.0.0.0 --port 9090
//! ```
//!
//! The first line printed is `listening on http://HOST:PORT` (flushed, so a script can read
//! the port); then it serves until killed (Ctrl-C). Open that URL in a browser, or:
//!
//! ```text
//! curl http://127.0.0.1:PORT/test
//! curl -d 'name=Robin' -d 'lang=perl' http://127.0.0.1:PORT/form
//! curl -F 'file=@Cargo.toml' http://127.0.0.1:PORT/upload
//! ```
//!
//! - `/`: "Hello World!", linking to `/test` (and the pages below); `/test` links back. As in
//!   HTTPD, a request walks up its path (`/test/x` is answered by `/test`); what reaches the
//!   root and is not `/` itself gets 404.
//! - `/form`: GET shows a form; POST (urlencoded or multipart) lists the submitted fields
//!   (`Request::params`: the query's, then the body's text fields).
//! - `/upload`: GET shows a multipart upload form; POST reports each uploaded file's name,
//!   size and content type, and the text fields (`Request::multipart`).
//! - `/stream?bytes=N`: N bytes (default 1 MiB; byte i is i % 251), streamed chunked.
//! - `/echo`: answers with the request body and its content type.
//!
//! Every reply carries `X-Connection-Id` and `X-Request-Index` (the request's position on its
//! connection), so a client can see its persistent connection being reused.
//!
//! Usage: `httpd [--host H] [--port P]` (defaults: 127.0.0.1, port 0 = a free port).

// Built only with the `server` feature (see `required-features` in Cargo.toml).
#[tokio::main]
async fn main() {
    httpd::main().await
}

mod httpd {
    use courier::server::{BodyError, FormError, Reply, Request, Server};
    use std::io::Write;

    const USAGE: &str = "usage: httpd [--host H] [--port P]";

    /// The largest `/stream` download.
    const MAX_STREAM: u64 = 64 << 20;

    const MAIN_PAGE: &str = "<html><body><h1>Hello World!</h1>\
        <a href=\"/test\">another test page</a>\
        <ul><li><a href=\"/form\">a form</a></li><li><a href=\"/upload\">a file upload</a></li></ul>\
        </body></html>";

    const TEST_PAGE: &str = "<html><body><h1>Test page</h1>\
        <a href=\"/\">Back to the main page</a>\
        </body></html>";

    const FORM_PAGE: &str = "<html><body><h1>A form</h1>\n\
        <form action=\"/form\" method=\"post\">\n\
        <p><label>Name <input name=\"name\"></label></p>\n\
        <p><label>Favourite language <input name=\"lang\"></label></p>\n\
        <p><input type=\"submit\" value=\"Send\"></p>\n\
        </form>\n<a href=\"/\">Back to the main page</a></body></html>\n";

    const UPLOAD_PAGE: &str = "<html><body><h1>Upload a file</h1>\n\
        <form action=\"/upload\" method=\"post\" enctype=\"multipart/form-data\">\n\
        <p><label>File <input type=\"file\" name=\"file\" multiple></label></p>\n\
        <p><label>Note <input name=\"note\"></label></p>\n\
        <p><input type=\"submit\" value=\"Upload\"></p>\n\
        </form>\n<a href=\"/\">Back to the main page</a></body></html>\n";

    struct Options {
        host: String,
        port: u16,
    }

    /// `--host H`, `--port P` (also `--host=H`, `--port=P`), `-h`/`--help`.
    fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
        let mut options = Options { host: "127.0.0.1".into(), port: 0 };
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
                _ => (arg, None),
            };
            let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--host" => options.host = value()?,
                "--port" => {
                    let port = value()?;
                    options.port = port.parse().map_err(|_| format!("--port: not a port number: {port}"))?;
                }
                _ => return Err(format!("unknown argument: {flag}")),
            }
        }
        Ok(Some(options))
    }

    pub async fn main() {
        let options = match parse_args(std::env::args().skip(1)) {
            Ok(Some(options)) => options,
            Ok(None) => {
                println!("{USAGE}");
                return;
            }
            Err(message) => {
                eprintln!("httpd: {message}\n{USAGE}");
                std::process::exit(2);
            }
        };
        let started = Server::builder()
            .host(options.host.clone())
            .port(options.port)
            // No request log: it is the test kit's, and a long-running server that nobody
            // inspects would only hold requests (and bodies) for nothing.
            .record_limit(0)
            .route("/", root)
            .route("/test", |req| async move { tag(&req, Reply::html(TEST_PAGE)) })
            .route("/form", form)
            .route("/upload", upload)
            .route("/stream", stream)
            .route("/echo", echo)
            .start()
            .await;
        let server = match started {
            Ok(server) => server,
            Err(error) => {
                eprintln!("httpd: cannot listen on {}:{}: {error}", options.host, options.port);
                std::process::exit(1);
            }
        };
        println!("listening on {}", server.url(""));
        let _ = std::io::stdout().flush();
        // Serve until killed; `server` stays alive (dropping it would stop accepting).
        std::future::pending::<()>().await;
        drop(server);
    }

    /// Adds the connection id and the request's index on its connection to a reply.
    fn tag(req: &Request, reply: Reply) -> Reply {
        reply
            .with_header("x-connection-id", &req.connection_id().to_string())
            .with_header("x-request-index", &req.index_on_connection().to_string())
    }

    /// The root of every path walk: the main page for `/`, 404 for what nothing else took.
    async fn root(req: Request) -> Reply {
        let reply = if req.path() == "/" { Reply::html(MAIN_PAGE) } else { Reply::not_found() };
        tag(&req, reply)
    }

    async fn form(req: Request) -> Reply {
        let reply = match req.method().as_str() {
            "GET" | "HEAD" => Reply::html(FORM_PAGE),
            "POST" => match req.params().await {
                Ok(params) => {
                    let lines = params.iter().map(|(name, value)| field_line(name, value));
                    Reply::html(fields_page("Form received", "/form", lines))
                }
                Err(error) => error.into(),
            },
            _ => method_not_allowed(),
        };
        tag(&req, reply)
    }

    async fn upload(req: Request) -> Reply {
        let reply = match req.method().as_str() {
            "GET" | "HEAD" => Reply::html(UPLOAD_PAGE),
            "POST" => match req.multipart().await {
                Ok(parts) => {
                    let lines = parts.iter().map(|part| {
                        let name = part.name.as_deref().unwrap_or_default();
                        match &part.filename {
                            Some(file_name) => {
                                let content_type =
                                    part.content_type.as_deref().unwrap_or("application/octet-stream");
                                file_line(name, file_name, part.data.len(), content_type)
                            }
                            None => field_line(name, &part.text()),
                        }
                    });
                    Reply::html(fields_page("Upload received", "/upload", lines))
                }
                Err(FormError::NotAForm { .. }) => {
                    Reply::error(415, "send multipart/form-data (curl -F file=@PATH)")
                }
                Err(error) => error.into(),
            },
            _ => method_not_allowed(),
        };
        tag(&req, reply)
    }

    /// `bytes` bytes of the pattern (byte i is i % 251), sent as it is produced.
    async fn stream(req: Request) -> Reply {
        let total = match req.query_param("bytes") {
            None => 1 << 20,
            Some(text) => match text.parse::<u64>() {
                Ok(total) if total <= MAX_STREAM => total,
                _ => return tag(&req, Reply::error(400, "bytes must be a number up to 64 MiB")),
            },
        };
        let (reply, mut sender) = Reply::stream(200);
        tokio::spawn(async move {
            let mut sent = 0u64;
            while sent < total {
                let piece = (total - sent).min(16 * 1024);
                let chunk: Vec<u8> = (sent..sent + piece).map(|i| (i % 251) as u8).collect();
                if sender.send(chunk).await.is_err() {
                    return; // the client went away (or asked with HEAD)
                }
                sent += piece;
            }
        });
        tag(&req, reply.with_header("content-type", "application/octet-stream"))
    }

    async fn echo(req: Request) -> Result<Reply, BodyError> {
        let body = req.body().await?;
        let content_type = req.header("content-type").unwrap_or_else(|| "application/octet-stream".into());
        Ok(tag(&req, Reply::bytes(&content_type, body)))
    }

    fn method_not_allowed() -> Reply {
        Reply::error(405, "use GET or POST").with_header("allow", "GET, HEAD, POST")
    }

    fn field_line(name: &str, value: &str) -> String {
        format!("<li>{} = {}</li>\n", escape(name), escape(value))
    }

    fn file_line(name: &str, file_name: &str, size: usize, content_type: &str) -> String {
        format!(
            "<li>{}: file {}, {size} bytes, {}</li>\n",
            escape(name),
            escape(file_name),
            escape(content_type)
        )
    }

    /// The page listing submitted fields, one `<li>` line each, in the order sent.
    fn fields_page(title: &str, back: &str, lines: impl Iterator<Item = String>) -> String {
        let items: String = lines.collect();
        format!(
            "<html><body><h1>{title}</h1>\n<ul>\n{items}</ul>\n<a href=\"{back}\">Back</a></body></html>\n"
        )
    }

    fn escape(text: &str) -> String {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#39;"),
                c => escaped.push(c),
            }
        }
        escaped
    }
}
