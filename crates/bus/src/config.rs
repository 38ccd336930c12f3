//! Bus configuration: backend, routes, retry delays, limits.

use crate::BusError;
use std::path::PathBuf;
use std::time::Duration;

/// Which backend carries the messages.
#[derive(Clone, Debug)]
pub enum Backend {
    /// RabbitMQ. `store_url` names the SQL store for parked messages and claim-check bodies:
    /// `sqlite://PATH?mode=rwc` for one node, `postgres://…` when several nodes share a broker.
    Amqp {
        /// `amqp://user:pass@host:port/vhost` (or `amqps://`).
        url: String,
        /// The SQL store for parked messages and claim-check bodies.
        store_url: String,
    },
    /// The embedded queue: one SQLite file (created if missing) holding queues, parked messages
    /// and claim-check bodies.
    Embedded {
        /// The SQLite file.
        path: PathBuf,
    },
}

/// One route: a named stream of work, split into partitions for per-key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Route name: `[a-z0-9._-]`, 1 to 64 characters (it becomes part of queue names).
    pub name: String,
    /// Partition queues (each with a single active consumer); 1 to 64.
    pub partitions: u16,
}

impl RouteSpec {
    /// A route with `partitions` partitions.
    pub fn new(name: impl Into<String>, partitions: u16) -> Self {
        RouteSpec {
            name: name.into(),
            partitions,
        }
    }
}

/// The routes of the gateway with their partition counts: the topology exported in
/// `deploy/rabbitmq/definitions.json`. The service may configure others. `portal.delivery`
/// brings dossiers citizens submitted on the national portal to the provincial system's
/// webhook; `portal.status` reports their processing status back to the portal.
pub fn standard_routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("dossier.sync", 8),
        RouteSpec::new("dossier.progress", 8),
        RouteSpec::new("document.outbound", 4),
        RouteSpec::new("document.inbound", 4),
        RouteSpec::new("status.inbound", 4),
        RouteSpec::new("portal.delivery", 4),
        RouteSpec::new("portal.status", 4),
    ]
}

/// Everything the bus needs to open.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// The backend.
    pub backend: Backend,
    /// Prefix of every queue / table name the bus creates (`lienthong`; tests use their own to
    /// stay apart): `[a-z][a-z0-9._-]*`, at most 64 characters.
    ///
    /// SQL table names (the store, the embedded queue) spell `.` and `-` as `_`, so `a.b`,
    /// `a-b` and `a_b` name the **same** tables: two buses sharing a store (or a SQLite file)
    /// must have prefixes that differ in more than those three characters.
    pub prefix: String,
    /// The routes.
    pub routes: Vec<RouteSpec>,
    /// The delay tiers for retries, ascending. RabbitMQ: one TTL queue per tier; a requested
    /// delay is rounded up to the next tier (capped at the largest). Embedded: same rounding,
    /// so both backends behave alike.
    pub retry_delays: Vec<Duration>,
    /// Attempts before a retried message is parked (`retry_after` on attempt `max_attempts`
    /// parks instead).
    pub max_attempts: u32,
    /// Unsettled deliveries allowed before a message is parked as poison: once it has come
    /// back unsettled (delivery dropped, consumer crashed, connection lost) **more than**
    /// `delivery_limit` times, i.e. on its `delivery_limit + 1`-th unsettled delivery, it is
    /// parked instead of delivered again. RabbitMQ: `x-delivery-limit` of the quorum queues,
    /// which counts the same way; the embedded queue does the same (on release, and at open
    /// for the deliveries a crashed process had in hand). A retry starts the count again.
    pub delivery_limit: u32,
    /// Bodies larger than this travel by claim check (body in the store, reference on the bus).
    pub claim_check_above: usize,
    /// Bodies larger than this are refused at publish.
    pub max_body: usize,
    /// RabbitMQ: publisher confirms outstanding at most (the pipelining window).
    pub confirm_window: usize,
}

impl BusConfig {
    /// Defaults for production: prefix `lienthong`, delays 5 s, 30 s, 2 min, 10 min, 1 h, 6 h,
    /// 12 attempts, delivery limit 10, claim check above 256 KiB, max body 64 MiB, window 256.
    pub fn new(backend: Backend, routes: Vec<RouteSpec>) -> Self {
        BusConfig {
            backend,
            prefix: "lienthong".into(),
            routes,
            retry_delays: [5, 30, 120, 600, 3600, 21600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            max_attempts: 12,
            delivery_limit: 10,
            claim_check_above: 256 * 1024,
            max_body: 64 * 1024 * 1024,
            confirm_window: 256,
        }
    }

    /// The route named `name`.
    pub fn route(&self, name: &str) -> Result<&RouteSpec, BusError> {
        self.routes
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| BusError::UnknownRoute(name.to_string()))
    }

    /// Rounds a requested delay up to the tier used (capped at the largest tier).
    pub fn delay_tier(&self, requested: Duration) -> Duration {
        self.retry_delays
            .iter()
            .copied()
            .find(|d| *d >= requested)
            .or_else(|| self.retry_delays.last().copied())
            .unwrap_or(requested)
    }

    /// Checks names and limits; every error names the offending setting.
    pub fn check(&self) -> Result<(), BusError> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        let bad = |what: String| Err(BusError::Config(what));
        // The prefix starts SQL table names: a letter first, or they are not valid identifiers.
        if !name_ok(&self.prefix) || !self.prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad(format!(
                "prefix: expected a lowercase letter then [a-z0-9._-], 1 to 64 characters, \
                 found {:?}",
                self.prefix
            ));
        }
        if self.routes.is_empty() {
            return bad("routes: expected at least one route, found none".into());
        }
        for (i, r) in self.routes.iter().enumerate() {
            if !name_ok(&r.name) {
                return bad(format!(
                    "routes[{i}].name: expected [a-z0-9._-], 1 to 64 characters, found {:?}",
                    r.name
                ));
            }
            if !(1..=64).contains(&r.partitions) {
                return bad(format!(
                    "routes[{i}].partitions: expected 1 to 64, found {}",
                    r.partitions
                ));
            }
            if self.routes[..i].iter().any(|o| o.name == r.name) {
                return bad(format!("routes[{i}].name: {:?} is declared twice", r.name));
            }
        }
        if self.retry_delays.is_empty()
            || self.retry_delays.windows(2).any(|w| w[0] >= w[1])
            || self.retry_delays[0].is_zero()
        {
            return bad(format!(
                "retry_delays: expected positive, strictly ascending delays, found {:?}",
                self.retry_delays
            ));
        }
        if self.max_attempts == 0 {
            return bad("max_attempts: expected at least 1, found 0".into());
        }
        if self.delivery_limit == 0 {
            return bad("delivery_limit: expected at least 1, found 0".into());
        }
        if self.claim_check_above > self.max_body {
            return bad(format!(
                "claim_check_above: expected at most max_body ({}), found {}",
                self.max_body, self.claim_check_above
            ));
        }
        if self.confirm_window == 0 {
            return bad("confirm_window: expected at least 1, found 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BusConfig {
        BusConfig::new(
            Backend::Embedded {
                path: "/tmp/x.db".into(),
            },
            vec![RouteSpec::new("dossier.sync", 4)],
        )
    }

    #[test]
    fn defaults_pass_and_tiers_round_up() {
        let c = cfg();
        c.check().expect("defaults are valid");
        assert_eq!(c.delay_tier(Duration::from_secs(1)), Duration::from_secs(5));
        assert_eq!(
            c.delay_tier(Duration::from_secs(31)),
            Duration::from_secs(120)
        );
        assert_eq!(
            c.delay_tier(Duration::from_secs(999_999)),
            Duration::from_secs(21600)
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let mut c = cfg();
        c.routes.push(RouteSpec::new("Bad Name", 1));
        let e = c.check().expect_err("bad name").to_string();
        assert!(e.contains("routes[1].name"), "{e}");
        let mut c = cfg();
        c.retry_delays = vec![Duration::from_secs(5), Duration::from_secs(5)];
        assert!(
            c.check()
                .expect_err("not ascending")
                .to_string()
                .contains("retry_delays")
        );
        for bad_prefix in ["", "1bus", "_bus", ".bus", "-bus", "Bus", "bus space"] {
            let mut c = cfg();
            c.prefix = bad_prefix.into();
            let e = c.check().expect_err(bad_prefix).to_string();
            assert!(e.contains("prefix: expected a lowercase letter"), "{e}");
        }
        for good_prefix in ["lienthong", "t1", "a.b-c_d9"] {
            let mut c = cfg();
            c.prefix = good_prefix.into();
            c.check().expect(good_prefix);
        }
        let mut c = cfg();
        c.routes[0].partitions = 0;
        assert!(
            c.check()
                .expect_err("zero")
                .to_string()
                .contains("partitions")
        );
    }
}
