//! Messages, deliveries and their settlement.

use crate::BusError;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;

/// A message as published: an id (unique per route; consumers deduplicate on it), the route,
/// an ordering key, free-form headers and the body bytes. The bus never looks inside the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique id (1 to 200 characters).
    pub id: String,
    /// The route it travels on.
    pub route: String,
    /// Ordering key (e.g. the dossier code): same key, same partition, same order.
    pub key: String,
    /// Metadata (names starting with `x-lienthong-` are reserved for the bus).
    pub headers: BTreeMap<String, String>,
    /// The payload.
    pub body: Bytes,
}

impl Message {
    /// A message without headers.
    pub fn new(
        id: impl Into<String>,
        route: impl Into<String>,
        key: impl Into<String>,
        body: impl Into<Bytes>,
    ) -> Self {
        Message {
            id: id.into(),
            route: route.into(),
            key: key.into(),
            headers: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Checks the id, the key and the header names (reserved prefix) before publishing.
    pub fn check(&self) -> Result<(), BusError> {
        let invalid = |detail: String| {
            Err(BusError::InvalidMessage {
                id: self.id.clone(),
                detail,
            })
        };
        if self.id.is_empty() || self.id.chars().count() > 200 {
            return invalid("id: expected 1 to 200 characters".into());
        }
        if self.key.chars().count() > 200 {
            return invalid("key: expected at most 200 characters".into());
        }
        if let Some(h) = self.headers.keys().find(|h| h.starts_with("x-lienthong-")) {
            return invalid(format!("headers.{h}: the x-lienthong- prefix is reserved"));
        }
        Ok(())
    }
}

/// Why a delivery failed: the text for the operator and, when a partner answered, its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// What went wrong (no personal data: it is logged and shown to operators).
    pub message: String,
    /// The partner's own code (DVCQG `error_code`, VDXP status), when there is one.
    pub partner_code: Option<String>,
}

impl Reason {
    /// A reason without a partner code.
    pub fn new(message: impl Into<String>) -> Self {
        Reason {
            message: message.into(),
            partner_code: None,
        }
    }

    /// Adds the partner's code.
    pub fn partner_code(mut self, code: impl Into<String>) -> Self {
        self.partner_code = Some(code.into());
        self
    }
}

/// What [`Delivery::retry_after`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Scheduled: the message comes back as `attempt` after `delay` (the tier used).
    Scheduled {
        /// The attempt number it will carry.
        attempt: u32,
        /// The delay tier used.
        delay: Duration,
    },
    /// The attempts are exhausted: the message was parked.
    Parked,
}

/// One delivery of a message to a consumer. End it with exactly one of [`Delivery::ack`],
/// [`Delivery::retry_after`] or [`Delivery::park`]; dropping it unsettled releases it for
/// redelivery (counted against the delivery limit).
pub struct Delivery {
    /// The message (claim-checked bodies already fetched).
    pub message: Message,
    /// This attempt, 1 for the first (retries count; redeliveries after a crash do not).
    pub attempt: u32,
    /// Whether this message may have been delivered before (crash, cut connection).
    pub redelivered: bool,
    /// The error of the first failed attempt, if any.
    pub first_error: Option<String>,
    /// The error of the latest failed attempt, if any.
    pub last_error: Option<String>,
    /// Attempts allowed before parking.
    pub(crate) max_attempts: u32,
    pub(crate) settle: Option<Settle>,
}

/// The backend's handle to settle a delivery.
pub(crate) enum Settle {
    Amqp(crate::amqp::Settle),
    Embedded(crate::embedded::Settle),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.message.id)
            .field("route", &self.message.route)
            .field("key", &self.message.key)
            .field("attempt", &self.attempt)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Done: the message leaves the bus (its claim-check body is deleted). Returns once the
    /// backend has taken the acknowledgement; as with a broker ack, it is not confirmed: if the
    /// process or the connection dies right after, the message may be delivered again.
    pub async fn ack(mut self) -> Result<(), BusError> {
        match self.settle.take() {
            Some(Settle::Amqp(s)) => s.ack(&self).await,
            Some(Settle::Embedded(s)) => s.ack(&self).await,
            None => Ok(()),
        }
    }

    /// Try again after `delay` (rounded up to the configured tier). On the last allowed
    /// attempt the message is parked instead, with this reason.
    pub async fn retry_after(
        mut self,
        delay: Duration,
        reason: Reason,
    ) -> Result<RetryOutcome, BusError> {
        if self.attempt >= self.max_attempts {
            let gave_up = Reason {
                message: format!(
                    "gave up after {} attempts: {}",
                    self.attempt, reason.message
                ),
                partner_code: reason.partner_code,
            };
            self.park_inner(gave_up).await?;
            return Ok(RetryOutcome::Parked);
        }
        let delay = match self.settle.take() {
            Some(Settle::Amqp(s)) => s.retry(&self, delay, Some(&reason)).await?,
            Some(Settle::Embedded(s)) => s.retry(&self, delay, Some(&reason)).await?,
            None => return Err(BusError::Closed),
        };
        Ok(RetryOutcome::Scheduled {
            attempt: self.attempt + 1,
            delay,
        })
    }

    /// Try again after `delay` (rounded up to the configured tier) **without counting an
    /// attempt**: for work that was not tried at all, such as a call a circuit breaker held back
    /// while its partner is presumed down. The attempt number and the errors stay as they are
    /// and the message is never parked for it, so an outage of any length costs no attempts.
    /// Returns the delay tier used.
    pub async fn postpone(mut self, delay: Duration) -> Result<Duration, BusError> {
        match self.settle.take() {
            Some(Settle::Amqp(s)) => s.retry(&self, delay, None).await,
            Some(Settle::Embedded(s)) => s.retry(&self, delay, None).await,
            None => Err(BusError::Closed),
        }
    }

    /// Give up now (a permanent error): the message is parked with this reason for an operator.
    pub async fn park(mut self, reason: Reason) -> Result<(), BusError> {
        self.park_inner(reason).await
    }

    async fn park_inner(&mut self, reason: Reason) -> Result<(), BusError> {
        match self.settle.take() {
            Some(Settle::Amqp(s)) => s.park(self, &reason).await,
            Some(Settle::Embedded(s)) => s.park(self, &reason).await,
            None => Err(BusError::Closed),
        }
    }
}
