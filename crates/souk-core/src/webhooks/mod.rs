//! Outbound webhooks to sellers' and integrators' endpoints: how a delivery is signed
//! (`signature`) and which destinations may be called at all (`destination`, the SSRF
//! guard). The outbox, retries and the delivery log build on these.

pub mod destination;
pub mod signature;
