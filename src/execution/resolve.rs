//! Host name resolution for the HTTP client.
//!
//! Names RFC 6761 reserves are answered locally, never by asking a DNS
//! server: anything under `.invalid` fails, and `localhost` (and names under
//! `.localhost`) is the loopback interface. Every other name goes to the
//! system resolver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a host name did not resolve. Its text is one line naming the host.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The name is under `.invalid`, which never resolves.
    #[error("cannot resolve {host}: names under .invalid never resolve (RFC 6761), so no DNS query was made")]
    Invalid {
        /// The name asked for.
        host: String,
    },
    /// The system resolver failed.
    #[error("cannot resolve {host}: {reason}")]
    Lookup {
        /// The name asked for.
        host: String,
        /// What the system resolver said.
        reason: String,
    },
    /// The system resolver answered without any address.
    #[error("cannot resolve {host}: no address found")]
    NoAddress {
        /// The name asked for.
        host: String,
    },
}

/// What a name resolves to without asking anyone, if RFC 6761 decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Never resolves.
    Invalid,
    /// The loopback interface.
    Loopback,
}

/// Whether RFC 6761 reserves `host` (case-insensitive, a trailing dot allowed).
pub fn reserved(host: &str) -> Option<Reserved> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let under = |tld: &str| host == tld || host.ends_with(&format!(".{tld}"));
    if under("invalid") {
        Some(Reserved::Invalid)
    } else if under("localhost") {
        Some(Reserved::Loopback)
    } else {
        None
    }
}

/// The client's resolver: RFC 6761 names locally, the rest by the system.
#[derive(Debug, Clone, Copy, Default)]
pub struct HarnessResolver;

impl Resolve for HarnessResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            match reserved(&host) {
                Some(Reserved::Invalid) => Err(ResolveError::Invalid { host }.into()),
                Some(Reserved::Loopback) => {
                    // Port 0: reqwest puts in the port of the URL or scheme.
                    let addrs: Addrs = Box::new(
                        [
                            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
                            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
                        ]
                        .into_iter(),
                    );
                    Ok(addrs)
                }
                None => {
                    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                        .await
                        .map_err(|error| ResolveError::Lookup {
                            host: host.clone(),
                            reason: error.to_string(),
                        })?
                        .collect();
                    if found.is_empty() {
                        return Err(ResolveError::NoAddress { host }.into());
                    }
                    let addrs: Addrs = Box::new(found.into_iter());
                    Ok(addrs)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_recognised_without_dns() {
        assert_eq!(reserved("ipdr-target.invalid"), Some(Reserved::Invalid));
        assert_eq!(reserved("IPDR-Target.INVALID."), Some(Reserved::Invalid));
        assert_eq!(reserved("invalid"), Some(Reserved::Invalid));
        assert_eq!(reserved("localhost"), Some(Reserved::Loopback));
        assert_eq!(reserved("api.localhost"), Some(Reserved::Loopback));
        assert_eq!(reserved("notinvalid"), None);
        assert_eq!(reserved("invalid.example"), None);
        assert_eq!(reserved("mylocalhost"), None);
    }

    #[tokio::test]
    async fn an_invalid_name_fails_locally() {
        let name: Name = "ipdr-target.invalid".parse().unwrap();
        let error = match HarnessResolver.resolve(name).await {
            Ok(_) => panic!("a .invalid name resolved"),
            Err(error) => error,
        };
        assert_eq!(
            error.to_string(),
            "cannot resolve ipdr-target.invalid: names under .invalid never resolve (RFC 6761), so no DNS query was made"
        );
    }

    #[tokio::test]
    async fn localhost_is_loopback_without_dns() {
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = match HarnessResolver.resolve(name).await {
            Ok(addrs) => addrs.collect(),
            Err(error) => panic!("localhost did not resolve: {error}"),
        };
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback()));
    }
}
