//! The serving CA and certificate kept in a Secret in cluster mode, so every replica serves the same certificate
//! and the webhooks' `caBundle` comes from it (pure: generation, expiry checks, Secret data; no I/O).
//!
//! A rotation makes a new CA and serving certificate together; the previous CA stays in the Secret
//! (`ca-previous.crt`) and in `caBundle` until the next rotation, so the API server trusts replicas that still
//! serve the previous certificate while they catch up.

use base64::Engine as _;
use serde_json::{Value, json};
use std::time::Duration;

/// Secret keys.
const TLS_CRT: &str = "tls.crt";
const TLS_KEY: &str = "tls.key";
const CA_CRT: &str = "ca.crt";
const CA_PREVIOUS: &str = "ca-previous.crt";

/// Label on Secrets Palisade generated (and may therefore rotate).
pub const MANAGED_LABEL: &str = "palisade.dev/managed-ca";

/// A problem with the serving certificate material.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// The Secret lacks a key or holds something unusable.
    #[error("Secret {secret}: {what}")]
    Secret {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        what: String,
    },
}

/// CA, serving certificate and key, as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingBundle {
    /// The CA that signed `cert`.
    pub ca: String,
    /// The CA of the previous rotation, still trusted until the next one.
    pub previous_ca: Option<String>,
    /// Serving certificate.
    pub cert: String,
    /// Serving key.
    pub key: String,
    /// Expiry of `cert` (Unix seconds).
    pub not_after: u64,
    /// Whether Palisade generated it (and may rotate it).
    pub managed: bool,
}

/// How long generated certificates live and when they are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Validity of a generated CA and certificate.
    pub validity: Duration,
    /// Renew when less than this is left.
    pub renew_before: Duration,
}

impl Default for Rotation {
    fn default() -> Self {
        Self { validity: Duration::from_secs(365 * 86_400), renew_before: Duration::from_secs(90 * 86_400) }
    }
}

/// `(year, month, day)` of Unix seconds (proleptic Gregorian, UTC; Howard Hinnant's civil-from-days).
pub(crate) fn civil(secs: u64) -> (i32, u8, u8) {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

/// A new CA and a serving certificate for `names` (DNS names or IP addresses), valid from a day before `now`
/// for `rotation.validity`; `previous_ca` is kept trusted.
pub fn generate(
    names: &[String],
    now: u64,
    rotation: Rotation,
    previous_ca: Option<String>,
) -> Result<ServingBundle, CaError> {
    let start = civil(now.saturating_sub(86_400));
    let end_secs = now + rotation.validity.as_secs();
    let end = civil(end_secs);

    let common_name = names.first().cloned().unwrap_or_else(|| "palisade".into());
    let issued =
        palisade_server::certs::issue(&format!("Palisade webhook CA {now}"), &common_name, names.to_vec(), start, end)?;
    Ok(ServingBundle {
        ca: issued.ca,
        previous_ca,
        cert: issued.cert,
        key: issued.key,
        not_after: end_secs - end_secs % 86_400,
        managed: true,
    })
}

/// Expiry (Unix seconds) of the first certificate in `pem`.
pub fn not_after(pem: &str) -> Option<u64> {
    let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = der.parse_x509().ok()?;
    u64::try_from(cert.validity().not_after.timestamp()).ok()
}

impl ServingBundle {
    /// PEM for the webhooks' `caBundle`: the current CA, then the previous one.
    pub fn ca_bundle(&self) -> Vec<u8> {
        let mut out = self.ca.trim_end().to_string();
        out.push('\n');
        if let Some(previous) = &self.previous_ca {
            out.push_str(previous.trim_end());
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Whether Palisade should rotate it now: it is Palisade's own and less than `renew_before` is left.
    pub fn needs_renewal(&self, now: u64, rotation: Rotation) -> bool {
        self.managed && now + rotation.renew_before.as_secs() >= self.not_after
    }

    /// The `kubernetes.io/tls` Secret holding it.
    pub fn to_secret(&self, namespace: &str, name: &str) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut data = json!({TLS_CRT: b64(&self.cert), TLS_KEY: b64(&self.key), CA_CRT: b64(&self.ca)});
        if let Some(previous) = &self.previous_ca {
            data[CA_PREVIOUS] = json!(b64(previous));
        }
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_LABEL: "true"}},
            "data": data,
        })
    }

    /// Reads a Secret (as JSON): `tls.crt`, `tls.key` and `ca.crt` are required. A Secret without Palisade's
    /// label (e.g. from cert-manager) is used as is and never rotated here.
    pub fn from_secret(secret: &Value) -> Result<Self, CaError> {
        let id = format!(
            "{}/{}",
            secret.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default(),
            secret.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
        );
        let field = |key: &str| -> Result<Option<String>, CaError> {
            let Some(text) = secret.pointer(&format!("/data/{}", key.replace('/', "~1"))).and_then(Value::as_str)
            else {
                return Ok(None);
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| CaError::Secret { secret: id.clone(), what: format!("{key}: bad base64: {e}") })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| CaError::Secret { secret: id.clone(), what: format!("{key}: not PEM text") })?;
            Ok(Some(text))
        };
        let required = |key: &str| -> Result<String, CaError> {
            field(key)?.ok_or_else(|| CaError::Secret { secret: id.clone(), what: format!("no {key}") })
        };
        let cert = required(TLS_CRT)?;
        let not_after = not_after(&cert)
            .ok_or_else(|| CaError::Secret { secret: id.clone(), what: format!("{TLS_CRT}: not a certificate") })?;
        let managed =
            secret.pointer(&format!("/metadata/labels/{}", MANAGED_LABEL.replace('/', "~1"))) == Some(&json!("true"));
        Ok(Self {
            ca: required(CA_CRT)?,
            previous_ca: field(CA_PREVIOUS)?,
            cert,
            key: required(TLS_KEY)?,
            not_after,
            managed,
        })
    }
}

/// The names a serving certificate needs for `target`: the Service's DNS names in cluster, the URL's host out of
/// cluster.
pub fn names_for(target: &crate::webhooks::WebhookTarget) -> Vec<String> {
    match target {
        crate::webhooks::WebhookTarget::Service { namespace, name, .. } => vec![
            format!("{name}.{namespace}.svc"),
            format!("{name}.{namespace}.svc.cluster.local"),
            format!("{name}.{namespace}"),
            name.clone(),
        ],
        crate::webhooks::WebhookTarget::Url(url) => {
            let rest = url.trim_start_matches("https://");
            let authority = rest.split('/').next().unwrap_or(rest);
            let host = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
                None => authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority).to_string(),
            };
            let mut names = vec![host];
            for extra in ["localhost", "127.0.0.1"] {
                if !names.iter().any(|n| n == extra) {
                    names.push(extra.to_string());
                }
            }
            names
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::WebhookTarget;

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(NOW), (2026, 1, 1));
        assert_eq!(civil(951_782_400), (2000, 2, 29));
    }

    #[test]
    fn generated_bundle_round_trips_through_a_secret_and_is_renewed_before_expiry() {
        let rotation = Rotation::default();
        let names = names_for(&WebhookTarget::Service { namespace: "ops".into(), name: "palisade".into(), port: 443 });
        assert_eq!(names[0], "palisade.ops.svc");
        let bundle = generate(&names, NOW, rotation, None).unwrap();
        let expiry = not_after(&bundle.cert).unwrap();
        assert_eq!(expiry, bundle.not_after, "the recorded expiry is the certificate's");
        assert_eq!(expiry, NOW + 365 * 86_400);
        let mut secret = bundle.to_secret("ops", "palisade-tls");
        assert_eq!(secret["type"], "kubernetes.io/tls");
        secret["metadata"]["resourceVersion"] = json!("7");
        assert_eq!(ServingBundle::from_secret(&secret).unwrap(), bundle);

        assert!(!bundle.needs_renewal(NOW, rotation));
        assert!(!bundle.needs_renewal(expiry - 91 * 86_400, rotation));
        assert!(bundle.needs_renewal(expiry - 89 * 86_400, rotation), "renewed 90 days before expiry");
        assert!(bundle.needs_renewal(expiry + 1, rotation));

        // A rotation trusts both CAs until the next one.
        let next = generate(&names, expiry - 89 * 86_400, rotation, Some(bundle.ca.clone())).unwrap();
        assert_ne!(next.ca, bundle.ca);
        let ca_bundle = String::from_utf8(next.ca_bundle()).unwrap();
        assert_eq!(ca_bundle.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(ca_bundle.starts_with(next.ca.trim_end()));
        let round = ServingBundle::from_secret(&next.to_secret("ops", "palisade-tls")).unwrap();
        assert_eq!(round.previous_ca.as_deref(), Some(bundle.ca.as_str()));
    }

    #[test]
    fn foreign_and_broken_secrets() {
        let bundle = generate(&["127.0.0.1".into()], NOW, Rotation::default(), None).unwrap();
        let mut secret = bundle.to_secret("ops", "palisade-tls");
        secret["metadata"]["labels"] = json!({});
        let foreign = ServingBundle::from_secret(&secret).unwrap();
        assert!(!foreign.managed);
        assert!(!foreign.needs_renewal(u64::MAX / 2, Rotation::default()), "never rotates someone else's Secret");
        secret["data"].as_object_mut().unwrap().remove("ca.crt");
        let error = ServingBundle::from_secret(&secret).unwrap_err().to_string();
        assert_eq!(error, "Secret ops/palisade-tls: no ca.crt");
        secret["data"]["ca.crt"] = json!("%%%");
        assert!(ServingBundle::from_secret(&secret).unwrap_err().to_string().contains("ca.crt: bad base64"));
    }

    #[test]
    fn url_targets_name_their_host() {
        let names = names_for(&WebhookTarget::url("https://127.0.0.1:8443").unwrap());
        assert_eq!(names, ["127.0.0.1", "localhost"]);
        let names = names_for(&WebhookTarget::url("https://webhook.example:9443").unwrap());
        assert_eq!(names, ["webhook.example", "localhost", "127.0.0.1"]);
    }
}
