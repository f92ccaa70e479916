//! `x509_decode`: a PEM certificate or CSR as the JSON Go's `encoding/json` makes of `x509.Certificate`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jmespath::{Context, Rcvar};
use serde_json::{Map, Value, json};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::util::{self, FnResult, fail, str_arg};

fn b64(bytes: &[u8]) -> Value {
    Value::String(BASE64.encode(bytes))
}

/// Big-endian unsigned bytes as a decimal string.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u32> = vec![0]; // little-endian base 1e9
    for &b in bytes {
        let mut carry = u64::from(b);
        for d in digits.iter_mut() {
            let v = u64::from(*d) * 256 + carry;
            *d = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            digits.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let mut out = digits.last().map(|d| d.to_string()).unwrap_or_default();
    for d in digits.iter().rev().skip(1) {
        out.push_str(&format!("{d:09}"));
    }
    out
}

fn oid_parts(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Value {
    json!(oid.iter().map(|it| it.collect::<Vec<u64>>()).unwrap_or_default())
}

/// Go's `pkix.Name` as JSON.
fn name_json(name: &X509Name<'_>) -> Value {
    let mut fields: [(&str, &str, Vec<Value>); 7] = [
        ("2.5.4.6", "Country", vec![]),
        ("2.5.4.10", "Organization", vec![]),
        ("2.5.4.11", "OrganizationalUnit", vec![]),
        ("2.5.4.7", "Locality", vec![]),
        ("2.5.4.8", "Province", vec![]),
        ("2.5.4.9", "StreetAddress", vec![]),
        ("2.5.4.17", "PostalCode", vec![]),
    ];
    let mut serial = String::new();
    let mut common = String::new();
    let mut names = Vec::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let value = attr.as_str().unwrap_or_default().to_string();
        names.push(json!({"Type": oid_parts(attr.attr_type()), "Value": value}));
        match oid.as_str() {
            "2.5.4.3" => common = value,
            "2.5.4.5" => serial = value,
            _ => {
                if let Some(f) = fields.iter_mut().find(|f| f.0 == oid) {
                    f.2.push(Value::String(value));
                }
            }
        }
    }
    let mut out = Map::new();
    for (_, key, values) in fields {
        out.insert(key.to_string(), if values.is_empty() { Value::Null } else { Value::Array(values) });
    }
    out.insert("SerialNumber".into(), Value::String(serial));
    out.insert("CommonName".into(), Value::String(common));
    out.insert("Names".into(), Value::Array(names));
    out.insert("ExtraNames".into(), Value::Null);
    Value::Object(out)
}

/// Go's `x509.SignatureAlgorithm` enumeration.
fn signature_algorithm(oid: &str) -> u64 {
    match oid {
        "1.2.840.113549.1.1.2" => 1,
        "1.2.840.113549.1.1.4" => 2,
        "1.2.840.113549.1.1.5" => 3,
        "1.2.840.113549.1.1.11" => 4,
        "1.2.840.113549.1.1.12" => 5,
        "1.2.840.113549.1.1.13" => 6,
        "1.2.840.10040.4.3" => 7,
        "2.16.840.1.101.3.4.3.2" => 8,
        "1.2.840.10045.4.1" => 9,
        "1.2.840.10045.4.3.2" => 10,
        "1.2.840.10045.4.3.3" => 11,
        "1.2.840.10045.4.3.4" => 12,
        "1.3.101.112" => 16,
        _ => 0,
    }
}

fn rsa_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<Value, String> {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let e = rsa.try_exponent().map_err(|_| "failed to parse subject public key info".to_string())?;
            Ok(json!({"N": decimal(rsa.modulus), "E": e}))
        }
        _ => Err("certificate should use rsa algorithm".to_string()),
    }
}

fn rfc3339(t: &ASN1Time) -> String {
    let ts = jiff::Timestamp::from_second(t.timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn certificate_json(der: &[u8]) -> Result<Value, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("x509: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let mut m = Map::new();
    m.insert("Raw".into(), b64(der));
    m.insert("RawTBSCertificate".into(), b64(tbs.as_ref()));
    m.insert("RawSubjectPublicKeyInfo".into(), b64(tbs.subject_pki.raw));
    m.insert("RawSubject".into(), b64(tbs.subject.as_raw()));
    m.insert("RawIssuer".into(), b64(tbs.issuer.as_raw()));
    m.insert("Signature".into(), b64(&cert.signature_value.data));
    m.insert(
        "SignatureAlgorithm".into(),
        json!(signature_algorithm(&cert.signature_algorithm.algorithm.to_id_string())),
    );
    m.insert("PublicKeyAlgorithm".into(), json!(1));
    m.insert("PublicKey".into(), rsa_key(&tbs.subject_pki)?);
    m.insert("Version".into(), json!(tbs.version.0 + 1));
    let serial = decimal(tbs.raw_serial());
    let serial_value = serial
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| serde_json::from_str::<Value>(&serial).unwrap_or(Value::String(serial.clone())));
    m.insert("SerialNumber".into(), serial_value);
    m.insert("Issuer".into(), name_json(&tbs.issuer));
    m.insert("Subject".into(), name_json(&tbs.subject));
    m.insert("NotBefore".into(), json!(rfc3339(&tbs.validity.not_before)));
    m.insert("NotAfter".into(), json!(rfc3339(&tbs.validity.not_after)));
    let key_usage = tbs.key_usage().ok().flatten().map_or(0, |ku| ku.value.flags);
    m.insert("KeyUsage".into(), json!(key_usage));
    let extensions: Vec<Value> = tbs
        .extensions()
        .iter()
        .map(|e| json!({"Id": oid_parts(&e.oid), "Critical": e.critical, "Value": b64(e.value)}))
        .collect();
    m.insert("Extensions".into(), if extensions.is_empty() { Value::Null } else { Value::Array(extensions) });
    for key in ["ExtraExtensions", "UnhandledCriticalExtensions", "ExtKeyUsage", "UnknownExtKeyUsage"] {
        m.insert(key.into(), Value::Null);
    }
    let basic = tbs.basic_constraints().ok().flatten();
    m.insert("BasicConstraintsValid".into(), json!(basic.is_some()));
    m.insert("IsCA".into(), json!(basic.as_ref().is_some_and(|b| b.value.ca)));
    let path_len = basic.as_ref().and_then(|b| b.value.path_len_constraint);
    m.insert("MaxPathLen".into(), json!(path_len.map_or(-1, i64::from)));
    m.insert("MaxPathLenZero".into(), json!(path_len == Some(0)));
    let ski = tbs.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(k) => Some(b64(k.0)),
        _ => None,
    });
    m.insert("SubjectKeyId".into(), ski.unwrap_or(Value::Null));
    let aki = tbs.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(k) => k.key_identifier.as_ref().map(|id| b64(id.0)),
        _ => None,
    });
    m.insert("AuthorityKeyId".into(), aki.unwrap_or(Value::Null));
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    let mut ips = Vec::new();
    let mut uris = Vec::new();
    if let Ok(Some(san)) = tbs.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(json!(d)),
                GeneralName::RFC822Name(e) => emails.push(json!(e)),
                GeneralName::URI(u) => uris.push(json!(u)),
                GeneralName::IPAddress(ip) => ips.push(b64(ip)),
                _ => {}
            }
        }
    }
    let list = |v: Vec<Value>| if v.is_empty() { Value::Null } else { Value::Array(v) };
    m.insert("OCSPServer".into(), Value::Null);
    m.insert("IssuingCertificateURL".into(), Value::Null);
    m.insert("DNSNames".into(), list(dns));
    m.insert("EmailAddresses".into(), list(emails));
    m.insert("IPAddresses".into(), list(ips));
    m.insert("URIs".into(), list(uris));
    m.insert("PermittedDNSDomainsCritical".into(), json!(false));
    for key in [
        "PermittedDNSDomains",
        "ExcludedDNSDomains",
        "PermittedIPRanges",
        "ExcludedIPRanges",
        "PermittedEmailAddresses",
        "ExcludedEmailAddresses",
        "PermittedURIDomains",
        "ExcludedURIDomains",
        "CRLDistributionPoints",
        "PolicyIdentifiers",
    ] {
        m.insert(key.into(), Value::Null);
    }
    Ok(Value::Object(m))
}

fn csr_json(der: &[u8]) -> Result<Value, String> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| format!("x509: {e}"))?;
    let info = &csr.certification_request_info;
    let mut m = Map::new();
    m.insert("Raw".into(), b64(der));
    m.insert("RawTBSCertificateRequest".into(), b64(info.raw));
    m.insert("RawSubjectPublicKeyInfo".into(), b64(info.subject_pki.raw));
    m.insert("RawSubject".into(), b64(info.subject.as_raw()));
    m.insert("Version".into(), json!(info.version.0));
    m.insert("Signature".into(), b64(&csr.signature_value.data));
    m.insert(
        "SignatureAlgorithm".into(),
        json!(signature_algorithm(&csr.signature_algorithm.algorithm.to_id_string())),
    );
    m.insert("PublicKeyAlgorithm".into(), json!(1));
    m.insert("PublicKey".into(), rsa_key(&info.subject_pki)?);
    m.insert("Subject".into(), name_json(&info.subject));
    for key in ["Attributes", "Extensions", "ExtraExtensions", "DNSNames", "EmailAddresses", "IPAddresses", "URIs"] {
        m.insert(key.into(), Value::Null);
    }
    Ok(Value::Object(m))
}

pub(crate) fn x509_decode(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let input = str_arg(ctx, "x509_decode", args, 0)?;
    let (_, pem) = parse_x509_pem(input.as_bytes()).map_err(|_| fail(ctx, "failed to decode PEM block"))?;
    let value = match pem.label.as_str() {
        "CERTIFICATE" => certificate_json(&pem.contents),
        "CERTIFICATE REQUEST" => csr_json(&pem.contents),
        _ => Err("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".to_string()),
    }
    .map_err(|e| fail(ctx, e))?;
    Ok(Rcvar::new(util::from_json(&value)))
}
