#![cfg(all(feature = "tls", feature = "server"))]
//! A first end-to-end HTTPS check: the bundled server with a generated certificate, the
//! client in each verification mode.

use courier::server::{Reply, Server};
use courier::tls::Tls;

#[tokio::test]
async fn https_round_trip_in_each_mode() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let chain = vec![cert.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = courier::tls::server_config(chain.clone(), key).unwrap();
    let server = Server::builder()
        .tls(config)
        .route("", |_req| async { Reply::text("secure") })
        .start()
        .await
        .unwrap();
    assert!(server.url("/").starts_with("https://127.0.0.1:"));
    let url = format!("https://localhost:{}/", server.port());

    let res = courier::get(&url).send().await;
    assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), courier::ErrorKind::Tls);

    let res = courier::get(&url).tls(Tls::Low).send().await;
    assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "secure"), "{}", res.reason());

    let res = courier::get(&url).tls(Tls::with_roots(chain).unwrap()).send().await;
    assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "secure"), "{}", res.reason());
}
