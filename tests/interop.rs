//! Interop with real third-party servers on loopback (nginx, Python's http.server).
//!
//! Ignored by plain `cargo test`: `scripts/interop.sh` (run by `.ci/run`) starts the servers,
//! sets `COURIER_INTEROP_*` to their base URLs and runs these with `--ignored`.

mod support;
use support::within;

fn base(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run scripts/interop.sh"))
}

fn nginx(path: &str) -> String {
    format!("{}{path}", base("COURIER_INTEROP_NGINX"))
}

fn python(path: &str) -> String {
    format!("{}{path}", base("COURIER_INTEROP_PYTHON"))
}

/// The 1 MiB pattern file the script writes: byte i is i % 251.
fn big_pattern() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_serves_a_small_file() {
    let res = within(courier::get(nginx("/hello.txt")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.version(), Some(courier::Version::HTTP_11));
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    assert_eq!(res.header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(res.header("content-length").as_deref(), Some("17"));
    assert!(res.header("server").is_some_and(|s| s.starts_with("nginx")));
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_big_file_collected_and_streamed_in_small_reads() {
    let res = within(courier::get(nginx("/big.bin")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().as_ref() == big_pattern().as_slice(), "collected body differs");

    let mut streamed = Vec::new();
    let mut pieces = 0;
    let res = within(
        courier::get(nginx("/big.bin"))
            .read_buffer_size(1000)
            .on_body(|chunk, _| {
                pieces += 1;
                streamed.extend_from_slice(chunk);
                true
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    assert!(streamed == big_pattern(), "streamed body differs");
    assert!(pieces >= (1 << 20) / 1000, "reads were capped at 1000 bytes: {pieces} pieces");
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_head_has_length_but_no_body() {
    let res = within(courier::head(nginx("/big.bin")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.header("content-length").as_deref(), Some("1048576"));
    assert!(res.body().is_empty());
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_errors_are_real_statuses() {
    let res = within(courier::get(nginx("/missing")).send()).await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(!res.is_error());
    let res = within(courier::post(nginx("/hello.txt"), "x=1").send()).await;
    assert_eq!(res.status().as_u16(), 405);
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_redirect_chains_are_followed() {
    let res = within(courier::get(nginx("/redirect-chain")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    assert_eq!(res.url(), nginx("/hello.txt"));
    let hops: Vec<u16> = res.redirects().iter().map(|hop| hop.status().as_u16()).collect();
    assert_eq!(hops, [301, 302], "newest first");
    assert_eq!(res.redirects()[1].url(), nginx("/redirect-chain"));

    // nginx's own directory redirect carries an absolute Location.
    let res = within(courier::get(nginx("/dir")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.url(), nginx("/dir/"));
    assert_eq!(res.body().as_ref(), b"<p>index</p>\n");

    // 303 turns the POST into a GET that nginx serves.
    let res = within(courier::post(nginx("/see-other"), "payload").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_answers_expect_continue() {
    let res = within(
        courier::request("PUT", nginx("/hello.txt"))
            .header("expect", "100-continue")
            .body(vec![b'x'; 10_000])
            .send(),
    )
    .await;
    // Static files refuse PUT; what matters is a clean final status, not a hang or a 59x.
    assert_eq!(res.status().as_u16(), 405, "{}", res.reason());
}

#[tokio::test]
#[ignore = "needs python3: run scripts/interop.sh"]
async fn python_http_server_speaks_http10() {
    let res = within(courier::get(python("/hello.txt")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.version(), Some(courier::Version::HTTP_10));
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    let res = within(courier::get(python("/big.bin")).read_buffer_size(4096).send()).await;
    assert!(res.body().as_ref() == big_pattern().as_slice());
    let res = within(courier::get(python("/dir")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.redirects()[0].status().as_u16(), 301);
    assert_eq!(res.body().as_ref(), b"<p>index</p>\n");
}
