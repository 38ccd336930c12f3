//! Bus errors: who is at fault and whether trying again can help.

/// What went wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The configuration is invalid (our fault; fix the config).
    #[error("bus configuration: {0}")]
    Config(String),
    /// A route that is not configured.
    #[error("unknown route {0:?}: it is not in the bus configuration")]
    UnknownRoute(String),
    /// The body is larger than the configured maximum (the caller's fault; never retried).
    #[error("message {id}: body of {size} bytes is larger than the maximum of {max} bytes")]
    TooLarge {
        /// Message id.
        id: String,
        /// Body size.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A message field is invalid (empty id, …).
    #[error("message {id:?}: {detail}")]
    InvalidMessage {
        /// Message id as given.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// The broker refused the message (publisher confirm nack). Retrying may help.
    #[error("message {id}: the broker did not accept it (negative confirm)")]
    Nacked {
        /// Message id.
        id: String,
    },
    /// The broker returned the message as unroutable (its queue is missing).
    #[error("message {id}: returned by the broker as unroutable to {queue}: {reply}")]
    Returned {
        /// Message id.
        id: String,
        /// The queue it was published to.
        queue: String,
        /// The broker's reply text.
        reply: String,
    },
    /// The broker or the embedded queue cannot be reached right now (retrying can help).
    #[error("{backend} unavailable: {detail}")]
    Unavailable {
        /// `rabbitmq` or `embedded`.
        backend: &'static str,
        /// What failed.
        detail: String,
    },
    /// The existing broker topology disagrees with the configuration (operator's fault).
    #[error("queue {queue}: {detail}")]
    Topology {
        /// The queue or exchange.
        queue: String,
        /// What disagrees.
        detail: String,
    },
    /// The SQL store (parked messages, claim-check bodies, embedded queue) failed.
    #[error("bus store: {0}")]
    Store(String),
    /// A claim-check body is missing from the store.
    #[error("message {id}: claim-check body {claim} is missing from the store")]
    ClaimMissing {
        /// Message id.
        id: String,
        /// Blob id.
        claim: String,
    },
    /// The bus was closed.
    #[error("the bus is closed")]
    Closed,
}

impl BusError {
    /// Whether trying the same operation again later can succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            BusError::Nacked { .. } | BusError::Unavailable { .. } | BusError::Store(_)
        )
    }
}

impl From<sqlx::Error> for BusError {
    fn from(e: sqlx::Error) -> Self {
        BusError::Store(e.to_string())
    }
}
