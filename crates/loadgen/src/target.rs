//! The target: a loopback `https://` URL, a TLS client trusting one CA (ring provider), and keep-alive
//! HTTP/1.1 connections that POST the same body over and over.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A target or connection problem.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL is not `https://host:port/path` on loopback.
    #[error("bad --url `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The CA file is unusable.
    #[error("{path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Connecting, the TLS handshake or HTTP failed.
    #[error("{0}")]
    Io(String),
}

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Resolved loopback address.
    pub addr: SocketAddr,
    /// Name checked against the server certificate.
    pub server_name: ServerName<'static>,
    /// `host:port` for the Host header.
    pub authority: String,
    /// Path and query.
    pub path: String,
}

impl Target {
    /// Parses `https://host:port/path?query`; only loopback hosts are accepted.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let err = |reason: &str| TargetError::Url { url: url.to_string(), reason: reason.to_string() };
        let rest = url.strip_prefix("https://").ok_or_else(|| err("must start with https://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| err("bad port"))?)
            }
            _ => (authority, 443),
        };
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = (bare_host, port)
            .to_socket_addrs()
            .map_err(|e| err(&format!("cannot resolve host: {e}")))?
            .next()
            .ok_or_else(|| err("host resolves to nothing"))?;
        if !addr.ip().is_loopback() {
            return Err(err("only loopback targets are allowed (127.0.0.0/8, ::1, localhost)"));
        }
        let server_name = match bare_host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(bare_host.to_string()).map_err(|_| err("bad host name"))?,
        };
        Ok(Self { addr, server_name, authority: authority.to_string(), path: path.to_string() })
    }
}

/// A TLS client configuration (TLS 1.2/1.3, ring) that trusts the CA certificates in `ca`.
pub fn tls_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, TargetError> {
    let err = |reason: String| TargetError::Ca { path: ca.display().to_string(), reason };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca).map_err(|e| err(format!("cannot read: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(format!("bad PEM: {e}")))?;
        roots.add(cert).map_err(|e| err(format!("bad certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("no CERTIFICATE block".into()));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// One keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// What a request returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200.
    Ok,
    /// Another status.
    Status(u16),
}

impl Connection {
    /// Connects, handshakes TLS and HTTP/1.1.
    pub async fn open(target: &Target, tls: &Arc<rustls::ClientConfig>) -> Result<Self, TargetError> {
        let io = |e: &dyn std::fmt::Display| TargetError::Io(format!("{}: {e}", target.addr));
        let tcp = TcpStream::connect(target.addr).await.map_err(|e| io(&e))?;
        let _ = tcp.set_nodelay(true);
        let stream =
            TlsConnector::from(Arc::clone(tls)).connect(target.server_name.clone(), tcp).await.map_err(|e| io(&e))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| io(&e))?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// POSTs `body` and reads the whole answer.
    pub async fn post(&mut self, target: &Target, body: &Bytes) -> Result<Outcome, TargetError> {
        let request = hyper::Request::post(target.path.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .map_err(|e| TargetError::Io(e.to_string()))?;
        self.sender.ready().await.map_err(|e| TargetError::Io(e.to_string()))?;
        let response = self.sender.send_request(request).await.map_err(|e| TargetError::Io(e.to_string()))?;
        let status = response.status().as_u16();
        response.into_body().collect().await.map_err(|e| TargetError::Io(e.to_string()))?;
        Ok(if status == 200 { Outcome::Ok } else { Outcome::Status(status) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_urls_only() {
        let ok = [
            ("https://127.0.0.1:8443/validate", "127.0.0.1:8443", "/validate"),
            ("https://localhost:9443/mutate?timeout=10s", "localhost:9443", "/mutate?timeout=10s"),
            ("https://[::1]:8443/validate", "[::1]:8443", "/validate"),
            ("https://127.0.0.1", "127.0.0.1", "/"),
        ];
        for (url, authority, path) in ok {
            let target = Target::parse(url).unwrap();
            assert_eq!(target.authority, authority);
            assert_eq!(target.path, path);
            assert!(target.addr.ip().is_loopback());
        }
        for url in ["http://127.0.0.1:8443/", "https://10.0.0.1:8443/", "https://127.0.0.1:port/", "127.0.0.1"] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }
}
