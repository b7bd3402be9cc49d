//! The secured hub of README.md ("Securing the hub"): nats-server started with
//! `tests/secured-hub.conf` as it is, its blanks filled in (a free port, a CA and a server
//! certificate made here, a temporary store, passwords). Two tills join it over
//! `tls://127.0.0.1:PORT` with the CA file and their own users and device ids, and orders go
//! both ways; one till's user cannot publish as the other, and a plain connection is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use countertop_core::WriteStore;
use countertop_sync::{Credentials, Hub, JoinOptions, LocalHub, SyncError, config};

mod support;
use support::{place, shop};

const CONFIG: &str = include_str!("secured-hub.conf");
const PASSWORDS: [(&str, &str); 2] = [("till-a", "correct horse a"), ("till-b", "battery staple b")];

/// A CA, and a certificate for 127.0.0.1 and localhost signed by it, in `dir`: `ca.pem`,
/// `server.pem`, `server-key.pem`.
fn certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "Countertop test hub CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "countertop-hub");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server-key.pem"), key.serialize_pem()).unwrap();
}

/// The hub of `secured-hub.conf`, on a free port, with certificates made now.
fn secured_hub() -> LocalHub {
    LocalHub::start_configured(|port, dir| {
        certificates(dir);
        let path = |name: &str| dir.join(name).display().to_string();
        let filled = CONFIG
            .replace("{{LISTEN}}", &format!("127.0.0.1:{port}"))
            .replace("{{CERT_FILE}}", &path("server.pem"))
            .replace("{{KEY_FILE}}", &path("server-key.pem"))
            .replace("{{STORE_DIR}}", &path("jetstream"))
            .replace("{{TILL_A_PASSWORD}}", PASSWORDS[0].1)
            .replace("{{TILL_B_PASSWORD}}", PASSWORDS[1].1);
        let blank = filled.lines().find(|l| !l.trim_start().starts_with('#') && l.contains("{{"));
        assert_eq!(blank, None, "a blank of secured-hub.conf is not filled in");
        Ok(filled)
    })
    .unwrap()
}

/// The hub as till `i` signs in to it: its user, the CA file.
fn hub_for(local: &LocalHub, i: usize) -> Hub {
    let (user, password) = PASSWORDS[i];
    let credentials = Credentials::UserPassword { user: user.into(), password: password.into() };
    let mut hub = Hub::new(format!("tls://127.0.0.1:{}", local.port()), "corner", credentials);
    hub.ca = Some(local.store().join("ca.pem"));
    hub
}

fn as_device(id: &str) -> JoinOptions {
    JoinOptions { device_id: Some(id.into()), ..JoinOptions::default() }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn two_tills_sync_through_the_secured_hub_and_neither_can_write_as_the_other() {
    let local = secured_hub();
    let a_dir = tempfile::tempdir().unwrap();
    let a = shop(a_dir.path());

    // Without the CA file, the hub's certificate is not trusted: nothing is kept.
    let mut untrusted = hub_for(&local, 0);
    untrusted.ca = None;
    let e = countertop_sync::join(&a, a_dir.path(), untrusted, &as_device("till-a"), &mut |_| {}).unwrap_err();
    assert!(matches!(&e, SyncError::Input(m) if m.contains("--ca FILE")), "{e}");
    assert!(config::load(a_dir.path()).unwrap().is_none());

    // Till A starts the shop on the hub as its own user and device id; till B joins.
    countertop_sync::join(&a, a_dir.path(), hub_for(&local, 0), &as_device("till-a"), &mut |_| {}).unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let b = WriteStore::open(b_dir.path()).unwrap();
    countertop_sync::pair_here(&a, &hub_for(&local, 0), &b, b_dir.path(), hub_for(&local, 1), as_device("till-b"))
        .unwrap();
    assert_eq!(b.identity().unwrap().unwrap().device, "till-b");

    // The CA is kept in each data folder, readable by its owner only, and sync.json says so.
    for dir in [a_dir.path(), b_dir.path()] {
        let kept = config::load(dir).unwrap().unwrap();
        assert_eq!(kept.ca.as_deref(), Some(dir.join(config::CA_FILE).as_path()));
        assert_eq!(mode(&dir.join(config::CA_FILE)), 0o600);
        assert!(kept.encrypted() && !kept.describe().contains("not encrypted"), "{kept:?}");
    }

    // Orders go both ways.
    let from_a = place(&a);
    let hub_a = config::load(a_dir.path()).unwrap().unwrap();
    let hub_b = config::load(b_dir.path()).unwrap().unwrap();
    countertop_sync::sync_once(&a, &hub_a, &mut |_| {}).unwrap();
    countertop_sync::sync_once(&b, &hub_b, &mut |_| {}).unwrap();
    assert!(b.order_history(&from_a, None).unwrap().is_some(), "{from_a} did not reach till B");
    let from_b = place(&b);
    countertop_sync::sync_once(&b, &hub_b, &mut |_| {}).unwrap();
    countertop_sync::sync_once(&a, &hub_a, &mut |_| {}).unwrap();
    assert!(a.order_history(&from_b, None).unwrap().is_some(), "{from_b} did not reach till A");

    // A device id another till has is refused (the claim on the hub), as is a bad one.
    let c_dir = tempfile::tempdir().unwrap();
    let c = WriteStore::open(c_dir.path()).unwrap();
    let e = countertop_sync::join(&c, c_dir.path(), hub_for(&local, 1), &as_device("till-b"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("'till-b' is already used"), "{e}");
    let e = countertop_sync::join(&c, c_dir.path(), hub_for(&local, 1), &as_device("till.b"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("cannot be a device id"), "{e}");
    assert!(config::load(c_dir.path()).unwrap().is_none() && c.identity().unwrap().is_none());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // Till A's user, with a client of its own: publishing on till B's subject is refused by
        // the hub (a permissions violation), and the stream does not get it.
        let (errors_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .user_and_password("till-a".into(), PASSWORDS[0].1.into())
            .add_root_certificates(local.store().join("ca.pem"))
            .require_tls(true)
            .event_callback(move |event| {
                let errors_tx = errors_tx.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        let _ = errors_tx.send(e.to_string());
                    }
                }
            })
            .connect(format!("tls://127.0.0.1:{}", local.port()))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let mut stream = js.get_stream("countertop-corner").await.unwrap();
        let before = stream.info().await.unwrap().state.messages;
        client.publish("countertop.corner.events.till-b", "a forged order".into()).await.unwrap();
        client.flush().await.unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(5), errors.recv()).await.unwrap().unwrap();
        assert!(
            refused.contains("Permissions Violation") && refused.contains("countertop.corner.events.till-b"),
            "{refused}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(stream.info().await.unwrap().state.messages, before, "the forged message reached the stream");
    });

    // A plain connection: the hub sends its INFO (TLS required) and closes the connection at
    // the first plain-text byte, before any sign-in.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", local.port())).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut info = [0; 4096];
    let n = plain.read(&mut info).unwrap();
    let info = String::from_utf8_lossy(&info[..n]);
    assert!(info.starts_with("INFO ") && info.contains("\"tls_required\":true"), "{info}");
    plain.write_all(b"CONNECT {\"user\":\"till-a\",\"pass\":\"correct horse a\"}\r\nPING\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("PONG"), "a plain connection was served");

    for store in [&a, &b] {
        assert_eq!(store.verify().unwrap().first_bad, None);
    }
}
