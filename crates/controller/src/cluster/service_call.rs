//! `context.apiCall` with a `service`: one HTTPS request straight to the service, as Kyverno's
//! `executeServiceCall`: TLS 1.2+ trusting only the call's `caBundle` (the system roots when it is empty), the
//! call's headers, a JSON body for POST, no proxy, a non-2xx status is an error carrying the body, and the body is
//! read up to the size cap. Plain `http://` and URLs with user information are refused. The caller bounds the
//! whole exchange with its timeout.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use palisade_engine::api_call::{Method, ServiceCall};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::sync::Arc;

/// Host, port and origin-form path of an `https://` service URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
}

/// Checks and splits a service URL.
pub(crate) fn target(url: &str) -> Result<Target, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("service URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("service URL {url:?}: only https:// is called"));
    }
    let authority = uri.authority().ok_or_else(|| format!("service URL {url:?}: no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("service URL {url:?}: user information is not allowed"));
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(format!("service URL {url:?}: no host"));
    }
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    Ok(Target { host, port: authority.port_u16().unwrap_or(443), authority: authority.as_str().to_string(), path })
}

/// A TLS client configuration trusting `ca_bundle` (PEM), or the system roots when it is empty.
fn tls_config(ca_bundle: &str) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if ca_bundle.trim().is_empty() {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err("no caBundle and no system root certificates".into());
        }
    } else {
        for cert in CertificateDer::pem_slice_iter(ca_bundle.as_bytes()) {
            let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
            roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
        }
        if roots.is_empty() {
            return Err("caBundle holds no PEM certificate".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Sends `method` (with `body` as JSON for POST) to the service and returns its JSON answer.
pub(crate) async fn call(
    service: &ServiceCall,
    method: Method,
    body: Option<&Value>,
    max_bytes: usize,
) -> Result<Value, String> {
    let target = target(&service.url)?;
    let config = tls_config(&service.ca_bundle)?;
    let name = ServerName::try_from(target.host.clone()).map_err(|e| format!("service host {:?}: {e}", target.host))?;
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect {}: {e}", target.authority))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {}: {e}", target.authority))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let payload = match (method, body) {
        (Method::Post, Some(body)) => Bytes::from(serde_json::to_vec(body).map_err(|e| e.to_string())?),
        _ => Bytes::new(),
    };
    let mut request = http::Request::builder()
        .method(method.as_str())
        .uri(target.path.as_str())
        .header(http::header::HOST, target.authority.as_str())
        .header(http::header::ACCEPT, "application/json");
    if method == Method::Post {
        request = request.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (key, value) in &service.headers {
        request = request.header(key.as_str(), value.as_str());
    }
    let request = request.body(Full::new(payload)).map_err(|e| format!("request: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = read_capped(response.into_body(), max_bytes).await?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>()
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("response is not JSON: {e}"))
}

/// Reads a body, refusing more than `max_bytes`.
pub(crate) async fn read_capped<B>(mut body: B, max_bytes: usize) -> Result<Vec<u8>, String>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max_bytes {
                return Err(format!("response larger than {max_bytes} bytes"));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_without_user_information() {
        let t = target("https://checker.team.svc:8443/v1/check?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("checker.team.svc", 8443, "/v1/check?x=1"));
        assert_eq!(target("https://[::1]/").unwrap().host, "::1");
        assert_eq!(target("https://example.com").unwrap().port, 443);
        for bad in ["http://checker/v1", "https://user:pw@checker/", "checker/v1", "https:///x", "ftp://x/"] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_refused() {
        assert!(tls_config("not a certificate").is_err());
        let bundle =
            crate::serving_ca::generate(&["127.0.0.1".into()], 1_700_000_000, Default::default(), None).unwrap();
        assert!(tls_config(&bundle.ca).is_ok());
    }
}
