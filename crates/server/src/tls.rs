//! TLS with rustls and the ring provider only (TLS 1.2 and 1.3): a certificate resolver whose key pair is
//! swapped when the PEM files change, without touching open connections, and optional client-certificate
//! verification (mTLS).

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A TLS setup problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file holds no usable item.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA bundle cannot verify clients.
    #[error("client CA: {0}")]
    ClientCa(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem { path: path.to_path_buf(), what: format!("bad PEM certificate: {e}") })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: path.to_path_buf(), what: "no CERTIFICATE block".into() });
    }
    Ok(certs)
}

/// Loads a certificate chain and its private key, checking that they belong together.
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<(CertifiedKey, [u8; 32]), TlsError> {
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let digest: [u8; 32] = Sha256::new().chain_update(&cert_pem).chain_update(&key_pem).finalize().into();
    let certs = certificates(cert_path, &cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| TlsError::Pem { path: key_path.to_path_buf(), what: format!("no usable private key: {e}") })?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)?;
    let certified = CertifiedKey::new(certs, signing_key);
    certified.keys_match().map_err(|e| TlsError::Pem {
        path: key_path.to_path_buf(),
        what: format!("private key does not match certificate {}: {e}", cert_path.display()),
    })?;
    Ok((certified, digest))
}

/// Serves one certificate, replaced atomically by [`ReloadingCert::reload_if_changed`].
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
    digest: Mutex<[u8; 32]>,
}

impl ReloadingCert {
    /// Loads the pair once; fails if it does not load.
    pub fn load(cert_path: PathBuf, key_path: PathBuf) -> Result<Self, TlsError> {
        let (key, digest) = load_certified_key(&cert_path, &key_path)?;
        Ok(Self { cert_path, key_path, current: ArcSwap::from_pointee(key), digest: Mutex::new(digest) })
    }

    /// Re-reads the files; swaps the served pair when they changed and load cleanly.
    ///
    /// `Ok(false)`: unchanged. `Err`: changed but unusable (e.g. only one of the two files written so far);
    /// the previous pair stays in service and the next call tries again.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let cert_pem = read(&self.cert_path)?;
        let key_pem = read(&self.key_path)?;
        let digest: [u8; 32] = Sha256::new().chain_update(&cert_pem).chain_update(&key_pem).finalize().into();
        let mut last = self.digest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *last == digest {
            return Ok(false);
        }
        let (key, digest) = load_certified_key(&self.cert_path, &self.key_path)?;
        self.current.store(Arc::new(key));
        *last = digest;
        Ok(true)
    }

    /// The certificate and key files.
    pub fn paths(&self) -> (&Path, &Path) {
        (&self.cert_path, &self.key_path)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Builds the server configuration: ring provider, TLS 1.3 and 1.2, ALPN h2 and http/1.1, client
/// certificates required when `client_ca` is given.
pub fn server_config(resolver: Arc<ReloadingCert>, client_ca: Option<&Path>) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let pem = read(path)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(path, &pem)? {
                roots.add(cert).map_err(|e| TlsError::ClientCa(format!("{}: {e}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientCa(format!("{}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::generate;

    #[test]
    fn reloads_only_changed_matching_pairs() {
        let dir = std::env::temp_dir().join(format!("palisade-tls-{}", std::process::id()));
        let first = generate(&dir).unwrap();
        let cert = ReloadingCert::load(first.cert.clone(), first.key.clone()).unwrap();
        assert!(!cert.reload_if_changed().unwrap());
        let before = cert.current.load_full();

        // A new key with the old certificate: rejected, old pair kept.
        let other = dir.join("other");
        let second = generate(&other).unwrap();
        std::fs::copy(&second.key, &first.key).unwrap();
        let err = cert.reload_if_changed().unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        assert!(Arc::ptr_eq(&before, &cert.current.load_full()));

        std::fs::copy(&second.cert, &first.cert).unwrap();
        assert!(cert.reload_if_changed().unwrap());
        assert!(!Arc::ptr_eq(&before, &cert.current.load_full()));

        assert!(server_config(Arc::new(cert), Some(&first.ca)).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_have_precise_errors() {
        let dir = std::env::temp_dir().join(format!("palisade-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = load_certified_key(&empty, &empty).unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE block"), "{err}");
        let err = load_certified_key(&dir.join("missing.pem"), &empty).unwrap_err().to_string();
        assert!(err.contains("missing.pem: cannot read"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
