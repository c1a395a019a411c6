//! TLS for `mqtts://`: a rustls client configuration with the `ring` provider, the broker verified against
//! the CA given with `ca=` (or the system's trusted roots), and an optional client certificate.
//!
//! Verification is always on: there is no option to skip it. Files are read here, when a connection is made,
//! so a missing or malformed file is reported with its path before any network traffic.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::MqttError;
use super::url::MqttUrl;

/// The rustls client configuration for `url` (which must be `mqtts://`).
pub fn client_config(url: &MqttUrl) -> Result<Arc<ClientConfig>, MqttError> {
    let mut roots = RootCertStore::empty();
    match &url.ca {
        Some(path) => {
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| setup(path, &format!("its certificate is not a usable CA ({e})")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(MqttError::Setup(
                    "no trusted CA certificates were found on this system; give the broker's CA with ?ca=FILE.pem"
                        .into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Setup(format!("TLS could not be set up: {e}")))?
        .with_root_certificates(roots);
    let config = match (&url.cert, &url.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key_der = read_key(key)?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| setup(key, &format!("the client certificate and key do not go together ({e})")))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn setup(path: &Path, what: &str) -> MqttError {
    MqttError::Setup(format!("{what}: {}", path.display()))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let pem = std::fs::read(path).map_err(|e| setup(path, &format!("could not read the certificate file ({e})")))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| setup(path, &format!("the certificate file is not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(setup(path, "the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, MqttError> {
    let pem = std::fs::read(path).map_err(|e| setup(path, &format!("could not read the key file ({e})")))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| setup(path, &format!("the key file is not valid PEM ({e})")))?
        .ok_or_else(|| setup(path, "the file holds no PEM private key"))
}
