//! Self-signed bootstrap for the embedded default: a local CA and a serving certificate for `127.0.0.1`
//! and `localhost`, written to the data folder and reused on later runs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A certificate generation problem.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing to the data folder failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Paths of the generated files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCerts {
    /// The CA certificate clients should trust (`ca.crt`).
    pub ca: PathBuf,
    /// The serving certificate chain (`tls.crt`).
    pub cert: PathBuf,
    /// The serving key (`tls.key`).
    pub key: PathBuf,
}

impl GeneratedCerts {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self { ca: dir.join("ca.crt"), cert: dir.join("tls.crt"), key: dir.join("tls.key") }
    }
}

fn current_year() -> i32 {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    1970 + (seconds / 31_556_952) as i32
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), CertError> {
    let err = |source| CertError::Write { path: path.to_path_buf(), source };
    std::fs::write(path, text).map_err(err)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Generates a new CA (ECDSA P-256, 5 years) and a serving certificate it signs, into `dir`.
///
/// The CA key is not kept: delete the folder to get a fresh pair.
pub fn generate(dir: &Path) -> Result<GeneratedCerts, CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write { path: dir.to_path_buf(), source })?;
    let year = current_year();
    let (not_before, not_after) = ((year - 1, 1, 1), (year + 5, 1, 1));

    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let issued = issue("Palisade local CA", "palisade", names, not_before, not_after)?;

    let out = GeneratedCerts::in_dir(dir);
    write(&out.ca, &issued.ca, false)?;
    write(&out.key, &issued.key, true)?;
    write(&out.cert, &issued.cert, false)?;
    Ok(out)
}

/// PEMs of a new CA and of the serving certificate and key it signed.
#[derive(Debug, Clone)]
pub struct IssuedCerts {
    /// The CA certificate.
    pub ca: String,
    /// The serving certificate.
    pub cert: String,
    /// The serving certificate's private key.
    pub key: String,
}

/// Makes a CA (ECDSA P-256) named `ca_name` and a serving certificate for `names` (DNS names or IP addresses,
/// common name `common_name`) that it signs, both valid from `not_before` to `not_after` (UTC dates as
/// `(year, month, day)`). The CA key is dropped.
pub fn issue(
    ca_name: &str,
    common_name: &str,
    names: Vec<String>,
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> Result<IssuedCerts, rcgen::Error> {
    let not_before = date_time_ymd(not_before.0, not_before.1, not_before.2);
    let not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(DnType::CommonName, ca_name);
    ca_params.distinguished_name = ca_dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(IssuedCerts { ca: ca_cert.pem(), cert: cert.pem(), key: key.serialize_pem() })
}

/// Reuses the certificates in `dir` when they load, else generates new ones. Returns them and whether they
/// were generated now.
pub fn ensure(dir: &Path) -> Result<(GeneratedCerts, bool), CertError> {
    let existing = GeneratedCerts::in_dir(dir);
    if existing.ca.is_file() && crate::tls::load_certified_key(&existing.cert, &existing.key).is_ok() {
        return Ok((existing, false));
    }
    Ok((generate(dir)?, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_are_reused() {
        let dir = std::env::temp_dir().join(format!("palisade-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (first, fresh) = ensure(&dir).unwrap();
        assert!(fresh);
        let pem = std::fs::read_to_string(&first.cert).unwrap();
        let (second, fresh) = ensure(&dir).unwrap();
        assert!(!fresh);
        assert_eq!(first, second);
        assert_eq!(pem, std::fs::read_to_string(&second.cert).unwrap());
        std::fs::write(&first.key, "garbage").unwrap();
        assert!(ensure(&dir).unwrap().1, "an unusable pair is regenerated");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
