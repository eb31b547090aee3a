//! TLS for an app's server (`AppOptions::tls`, cargo feature `http-tls`): rustls with the ring
//! provider, the certificate chain and key read from PEM files when the server starts, ALPN
//! offering `h2` then `http/1.1` (the connection's preface then picks the protocol, as on a
//! cleartext port). A file that cannot be read, or a key that does not fit, is `H007` at listen.

use std::sync::Arc;

use super::app::TlsOptions;
use crate::error::{Error, ErrorCode, Result};

/// What accepts TLS connections.
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;

/// The acceptor for `o`'s certificate chain and key.
pub(crate) fn acceptor(o: &TlsOptions) -> Result<Acceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let failed = |what: String| Error::new(ErrorCode::HttpServerFailed, what);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&o.cert)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| failed(format!("TLS: cannot read the certificate chain '{}': {e}", o.cert)))?;
    if certs.is_empty() {
        return Err(failed(format!("TLS: '{}' holds no PEM certificate", o.cert)));
    }
    let key = PrivateKeyDer::from_pem_file(&o.key)
        .map_err(|e| failed(format!("TLS: cannot read the private key '{}': {e}", o.key)))?;
    // ring rather than aws-lc-rs: it builds with no C toolchain beyond its own and far faster.
    // rustls marks it deprecated because its key exchange has no post-quantum group yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            failed(format!("TLS: the key '{}' does not fit the certificate '{}': {e}", o.key, o.cert))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
