//! RSA keys: generation, PEM encoding, signing and verification.
//!
//! All RSA operations go through aws-lc-rs: constant-time and blinded, and
//! fast. The `rsa` crate that activitypub_federation uses is not constant-time
//! (RUSTSEC-2023-0071); anyone can make us sign (send a Follow, get an
//! Accept), so organisation keys never pass through it (docs/stack.md §5).

use std::fmt;

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rand::SystemRandom,
    rsa::{KeyPair, KeySize},
    signature::{self, KeyPair as _, UnparsedPublicKey},
};

/// A PKCS#8 PEM private key. It has no `Serialize` and its `Debug` is
/// redacted, so it cannot end up in an API response or a log line.
#[derive(Clone)]
pub struct PrivateKey(String);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("the private key could not be read")]
    BadPrivateKey,
    #[error("the public key could not be read")]
    BadPublicKey,
    #[error("RSA signing failed")]
    Sign,
}

impl PrivateKey {
    pub fn from_pem(pem: String) -> Self {
        PrivateKey(pem)
    }

    /// The PEM text, for storage only.
    pub fn expose_pem(&self) -> &str {
        &self.0
    }

    /// Parses the key for signing. Parsing costs more than a signature, so
    /// callers that sign repeatedly keep the [`Signer`].
    pub fn signer(&self) -> Result<Signer, KeyError> {
        let pem = pem::parse(&self.0).map_err(|_| KeyError::BadPrivateKey)?;
        let pair = KeyPair::from_pkcs8(pem.contents()).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(Signer {
            pair,
            rng: SystemRandom::new(),
        })
    }
}

/// A fresh RSA-2048 key pair: the private key and the public key as SPKI PEM
/// (`-----BEGIN PUBLIC KEY-----`, what `publicKeyPem` carries).
pub fn generate_keypair() -> Result<(PrivateKey, String), KeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
    let private: Pkcs8V1Der = pair.as_der().map_err(|_| KeyError::Generate)?;
    let public: PublicKeyX509Der = pair.public_key().as_der().map_err(|_| KeyError::Generate)?;
    let lf = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    let private_pem = pem::encode_config(&pem::Pem::new("PRIVATE KEY", private.as_ref()), lf);
    let public_pem = pem::encode_config(&pem::Pem::new("PUBLIC KEY", public.as_ref()), lf);
    Ok((PrivateKey(private_pem), public_pem))
}

/// A parsed private key that signs with RSASSA-PKCS1-v1_5 SHA-256
/// (`rsa-sha256` in HTTP signatures).
pub struct Signer {
    pair: KeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

impl Signer {
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                message,
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(signature)
    }
}

/// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature against a PEM public key
/// (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`, both seen in the wild).
pub fn verify_rsa_sha256(
    public_key_pem: &str,
    message: &[u8],
    sig: &[u8],
) -> Result<bool, KeyError> {
    let pem = pem::parse(public_key_pem.trim()).map_err(|_| KeyError::BadPublicKey)?;
    if !matches!(pem.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
        return Err(KeyError::BadPublicKey);
    }
    let key = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pem.contents());
    Ok(key.verify(message, sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_its_public_key_verifies() {
        let (private, public_pem) = generate_keypair().unwrap();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let signer = private.signer().unwrap();
        let sig = signer.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 256);
        assert!(verify_rsa_sha256(&public_pem, b"hello", &sig).unwrap());
        assert!(!verify_rsa_sha256(&public_pem, b"hellO", &sig).unwrap());
        assert_eq!(format!("{private:?}"), "PrivateKey(<redacted>)");
    }
}
