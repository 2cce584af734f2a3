//! Rate limits on the routes anyone can call without an access token (and on import): one
//! budget per client address and one for all addresses together, checked in that order, so
//! that an address over its own budget is refused before it spends the shared one and cannot
//! slow down the others (`--rate-limit-per-address` < `--rate-limit-global`).
//!
//! [`governor`] keeps the budgets (GCRA: one atomic word per address, no timers); its keyed
//! state is pruned of addresses whose budget is full again, and capped at
//! [`MAX_ADDRESSES`]: past the cap, until pruning makes room, only the overall budget applies.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::{IpNetwork, Settings, canonical};

/// Most client addresses tracked at once (about 50 bytes each).
pub const MAX_ADDRESSES: usize = 100_000;

/// How often the per-address state is pruned of addresses whose budget is full again.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// A request over a budget, and how long until the budget has room again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: Duration,
    /// Whether the client's own budget was spent (else all clients' together).
    pub per_address: bool,
}

pub struct Limits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    global: Option<DefaultDirectRateLimiter>,
    trusted_proxies: Vec<IpNetwork>,
    clock: DefaultClock,
    last_pruned: Mutex<Instant>,
}

impl Limits {
    /// The limits the settings ask for; refuses a per-address budget that is not below the
    /// overall one (one address could then spend everybody's).
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let (per_address, global) = (settings.rate_limit_per_address, settings.rate_limit_global);
        if global > 0 && !(1..global).contains(&per_address) {
            anyhow::bail!(
                "--rate-limit-per-address ({per_address}) must be at least 1 and below \
                 --rate-limit-global ({global}), so that one address cannot spend every \
                 client's budget"
            );
        }
        let quota = |n: u32| NonZeroU32::new(n).map(Quota::per_minute);
        Ok(Limits {
            per_address: quota(per_address).map(DefaultKeyedRateLimiter::keyed),
            global: quota(global).map(DefaultDirectRateLimiter::direct),
            trusted_proxies: settings.trusted_proxies.clone(),
            clock: DefaultClock::default(),
            last_pruned: Mutex::new(Instant::now()),
        })
    }

    /// Whether `peer` is one of the operator's reverse proxies, whose forwarded header names
    /// the client.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(peer))
    }

    /// Spends one request of `client`'s budget, then one of the overall budget.
    pub fn check(&self, client: IpAddr) -> Result<(), RateLimited> {
        if let Some(limiter) = &self.per_address {
            self.prune(limiter);
            if limiter.len() < MAX_ADDRESSES {
                limiter
                    .check_key(&bucket(client))
                    .map_err(|not_until| self.refused(not_until, true))?;
            }
        }
        if let Some(limiter) = &self.global {
            limiter
                .check()
                .map_err(|not_until| self.refused(not_until, false))?;
        }
        Ok(())
    }

    /// Number of client addresses whose budget is being tracked.
    pub fn tracked_addresses(&self) -> usize {
        self.per_address.as_ref().map_or(0, |l| l.len())
    }

    fn refused(
        &self,
        not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>,
        per_address: bool,
    ) -> RateLimited {
        RateLimited {
            retry_after: not_until.wait_time_from(self.clock.now()),
            per_address,
        }
    }

    /// Forgets addresses whose budget is full again (they are as if never seen), at most once
    /// every [`PRUNE_EVERY`], or at once when the cap is reached.
    fn prune(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        let Ok(mut last) = self.last_pruned.try_lock() else {
            return; // another request is pruning
        };
        if last.elapsed() >= PRUNE_EVERY || limiter.len() >= MAX_ADDRESSES {
            limiter.retain_recent();
            limiter.shrink_to_fit();
            *last = Instant::now();
        }
    }
}

/// The budget an address spends from: its own for IPv4, its /64 for IPv6 (what one
/// subscriber is usually given).
fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: u32, global: u32) -> Limits {
        let mut settings = Settings::for_data_dir("/nonexistent");
        settings.rate_limit_per_address = per_address;
        settings.rate_limit_global = global;
        Limits::new(&settings).expect("valid limits")
    }

    #[test]
    fn per_address_trips_before_global_and_spares_others() {
        let limits = limits(2, 3);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(limits.check(a).is_ok());
        assert!(limits.check(a).is_ok());
        let refused = limits.check(a).unwrap_err();
        assert!(refused.per_address);
        assert!(refused.retry_after > Duration::ZERO);
        assert!(
            limits.check(b).is_ok(),
            "a refused address spent nothing of the overall budget"
        );
        let refused = limits.check(b).unwrap_err();
        assert!(!refused.per_address, "now the overall budget is spent");
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let limits = limits(1, 10);
        assert!(limits.check("2001:db8::1".parse().unwrap()).is_ok());
        assert!(limits.check("2001:db8::2".parse().unwrap()).is_err());
        assert!(limits.check("2001:db8:0:1::1".parse().unwrap()).is_ok());
        assert!(limits.check("::ffff:192.0.2.9".parse().unwrap()).is_ok());
        assert!(
            limits.check("192.0.2.9".parse().unwrap()).is_err(),
            "a mapped address is the IPv4 one"
        );
    }

    #[test]
    fn per_address_must_be_below_global() {
        for (per_address, global) in [(10, 10), (11, 10), (0, 10)] {
            let mut settings = Settings::for_data_dir("/nonexistent");
            settings.rate_limit_per_address = per_address;
            settings.rate_limit_global = global;
            assert!(
                Limits::new(&settings).is_err(),
                "{per_address} per address, {global} in all"
            );
        }
        assert!(limits(0, 0).check("192.0.2.1".parse().unwrap()).is_ok());
        assert_eq!(limits(0, 0).tracked_addresses(), 0);
    }

    #[test]
    fn pruning_forgets_addresses_whose_budget_is_full_again() {
        let limits = limits(60_000, 120_000);
        for i in 0..100u8 {
            limits.check(IpAddr::from([10, 0, 0, i])).unwrap();
        }
        assert_eq!(limits.tracked_addresses(), 100);
        std::thread::sleep(Duration::from_millis(5)); // 1 ms replenishes one request
        *limits.last_pruned.lock().unwrap() -= PRUNE_EVERY;
        limits.check(IpAddr::from([10, 0, 1, 0])).unwrap();
        assert!(
            limits.tracked_addresses() <= 1,
            "{}",
            limits.tracked_addresses()
        );
    }

    #[test]
    fn networks() {
        let net: IpNetwork = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        let one: IpNetwork = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: IpNetwork = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<IpNetwork>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
    }
}
