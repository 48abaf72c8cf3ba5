//! Which peers may speak for the client: `X-Forwarded-For`, `-Host` and `-Proto` are read
//! only when the connection comes from a configured trusted proxy
//! (`ORCHARD_TRUSTED_PROXIES`); from anyone else they are removed before any other part of
//! Orchard can read them.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

const FORWARDED: [&str; 4] = [
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
];

/// The trusted proxies: addresses or networks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 127.0.0.1, ::1` (addresses or CIDR networks).
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.iter().flat_map(|s| s.split(',')).map(str::trim) {
            if item.is_empty() {
                continue;
            }
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("ORCHARD_TRUSTED_PROXIES: {item:?} is not an address or a network")
                })?;
            nets.push(net);
        }
        Ok(Self { nets })
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address, and the request's headers made safe to read: forwarded
    /// headers from an untrusted peer are dropped; from a trusted one, the client is the
    /// right-most `X-Forwarded-For` address that is not itself a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &mut HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            for h in FORWARDED {
                headers.remove(h);
            }
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        hops.iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// An IPv4 address seen through an IPv6 socket is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h.insert("x-forwarded-host", "evil.example".parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_peers_speak_for_the_client() {
        let p = TrustedProxies::parse(&["10.0.0.0/8, 127.0.0.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = headers("203.0.113.7");
        assert_eq!(p.client(ip("198.51.100.1"), &mut h), ip("198.51.100.1"));
        assert!(
            h.get("x-forwarded-host").is_none(),
            "dropped from strangers"
        );
        let mut h = headers("1.2.3.4, 203.0.113.7, 10.1.1.1");
        assert_eq!(p.client(ip("127.0.0.1"), &mut h), ip("203.0.113.7"));
        assert!(h.get("x-forwarded-host").is_some(), "kept from a proxy");
        let mut h = headers("garbage");
        assert_eq!(p.client(ip("10.0.0.2"), &mut h), ip("10.0.0.2"));
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
        assert!(!TrustedProxies::default().trusts(ip("127.0.0.1")));
    }
}
