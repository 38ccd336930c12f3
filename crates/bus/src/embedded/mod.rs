//! The embedded backend: a durable queue in one SQLite file.

use crate::message::Reason;
use crate::ops::{QueueInfo, Selection};
use crate::store::Store;
use crate::{BusConfig, BusError, Consumer, Delivery, Message};
use std::time::Duration;

/// The embedded bus.
pub struct EmbeddedBus {}

impl EmbeddedBus {
    pub(crate) async fn open(config: BusConfig) -> Result<Self, BusError> {
        let _ = config;
        todo!()
    }
    pub(crate) async fn publish_batch(&self, messages: Vec<Message>) -> Result<(), BusError> {
        let _ = messages;
        todo!()
    }
    pub(crate) async fn consume(&self, route: &str, prefetch: u16) -> Result<Consumer, BusError> {
        let _ = (route, prefetch);
        todo!()
    }
    pub(crate) async fn depth(&self, route: &str) -> Result<u64, BusError> {
        let _ = route;
        todo!()
    }
    pub(crate) async fn queues(&self) -> Result<Vec<QueueInfo>, BusError> {
        todo!()
    }
    pub(crate) async fn replay(
        &self,
        selection: &Selection,
        operator: &str,
    ) -> Result<u64, BusError> {
        let _ = (selection, operator);
        todo!()
    }
    pub(crate) async fn close(&self) {
        todo!()
    }
    pub(crate) fn store(&self) -> &Store {
        todo!()
    }
}

/// Settles one embedded delivery.
pub(crate) struct Settle {}

impl Settle {
    pub(crate) async fn ack(self, d: &Delivery) -> Result<(), BusError> {
        let _ = d;
        todo!()
    }
    pub(crate) async fn retry(
        self,
        d: &Delivery,
        delay: Duration,
        reason: &Reason,
    ) -> Result<Duration, BusError> {
        let _ = (d, delay, reason);
        todo!()
    }
    pub(crate) async fn park(self, d: &Delivery, reason: &Reason) -> Result<(), BusError> {
        let _ = (d, reason);
        todo!()
    }
}
