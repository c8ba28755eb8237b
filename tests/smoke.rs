mod support;
use support::*;

#[tokio::test]
async fn get_sends_exact_default_head_and_reads_the_response() {
    let server =
        Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello").await;
    let res = within(courier::get(server.url("/p?q=1#frag")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello");
    assert_eq!(res.header("x-a").as_deref(), Some("1, 2"));
    let got = server.requests();
    assert_eq!(
        got[0].head,
        format!(
            "GET /p?q=1 HTTP/1.1\r\nhost: {}\r\nuser-agent: courier/{}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
            server.addr,
            env!("CARGO_PKG_VERSION")
        )
    );
}
