//! Servers we refuse to federate with. A block covers the domain and its
//! subdomains (`domains::covers`): their followers are removed and what is
//! queued for them is dropped, in the transaction that stores the block.

use super::{ServiceError, ServiceResult, Services};
use crate::{domains, organisations::Invalid, store::DomainBlock};

/// A domain as people type it, in the one normal form.
fn normalise(domain: &str) -> ServiceResult<String> {
    domains::normalise(domain)
        .ok_or_else(|| Invalid::new("domain", "must be a host name such as example.org").into())
}

/// Blocks `domain` (as typed: any case, trailing dot, IDN).
pub async fn block(services: &Services, domain: &str, reason: &str) -> ServiceResult<DomainBlock> {
    let domain = normalise(domain)?;
    let block = services.store.block_domain(&domain, reason.trim()).await?;
    tracing::info!(domain, "domain blocked");
    Ok(block)
}

/// Lifts the block of `domain`; `NotFound` if there is none.
pub async fn unblock(services: &Services, domain: &str) -> ServiceResult<()> {
    let domain = normalise(domain)?;
    if services.store.unblock_domain(&domain).await? {
        tracing::info!(domain, "domain unblocked");
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!("{domain} is not blocked")))
    }
}

pub async fn list(services: &Services) -> ServiceResult<Vec<DomainBlock>> {
    Ok(services.store.domain_blocks().await?)
}
