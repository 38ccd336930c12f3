//! The SQL store beside the queues: parked messages (listable, filterable, never only in
//! memory) and claim-check bodies. SQLite (one node; the embedded queue's own file) or
//! PostgreSQL (several nodes sharing a broker), through sqlx with queries checked at run time.

use crate::BusError;
use crate::ops::{ParkedFilter, ParkedMessage, Selection};
use bytes::Bytes;

/// The store.
#[derive(Clone)]
pub struct Store {}

impl Store {
    /// Opens (creating tables if missing) the store at `url`: `sqlite://PATH?mode=rwc` or
    /// `postgres://…`; table names start with `prefix`.
    pub async fn open(url: &str, prefix: &str) -> Result<Store, BusError> {
        let _ = (url, prefix);
        todo!()
    }

    /// Stores a claim-check body under `id` (idempotent).
    pub async fn put_blob(&self, id: &str, body: &[u8]) -> Result<(), BusError> {
        let _ = (id, body);
        todo!()
    }

    /// The claim-check body `id`, `None` when missing.
    pub async fn get_blob(&self, id: &str) -> Result<Option<Bytes>, BusError> {
        let _ = id;
        todo!()
    }

    /// Deletes a claim-check body (idempotent).
    pub async fn delete_blob(&self, id: &str) -> Result<(), BusError> {
        let _ = id;
        todo!()
    }

    /// Parks a message (idempotent on route + id: parking again overwrites and sets it back to
    /// `parked`). `body` is `None` when the body is claim-checked (`message.claim`).
    pub async fn park(&self, message: &ParkedMessage, body: Option<&[u8]>) -> Result<(), BusError> {
        let _ = (message, body);
        todo!()
    }

    /// Parked messages matching the filter, newest first.
    pub async fn list_parked(&self, filter: &ParkedFilter) -> Result<Vec<ParkedMessage>, BusError> {
        let _ = filter;
        todo!()
    }

    /// Messages still parked on a route.
    pub async fn parked_count(&self, route: &str) -> Result<u64, BusError> {
        let _ = route;
        todo!()
    }

    /// The still-parked messages of a selection with their bodies (claim-checked ones come
    /// with an empty body and `claim` set), oldest first, at most `limit`.
    pub async fn select_parked(
        &self,
        selection: &Selection,
        limit: u32,
    ) -> Result<Vec<(ParkedMessage, Bytes)>, BusError> {
        let _ = (selection, limit);
        todo!()
    }

    /// Marks one parked message replayed by `operator` (only if still parked).
    pub async fn mark_replayed(
        &self,
        route: &str,
        id: &str,
        operator: &str,
    ) -> Result<(), BusError> {
        let _ = (route, id, operator);
        todo!()
    }

    /// Marks the selected parked messages discarded (kept for audit, claim-check bodies
    /// deleted). Returns how many.
    pub async fn discard(
        &self,
        selection: &Selection,
        operator: &str,
        reason: &str,
    ) -> Result<u64, BusError> {
        let _ = (selection, operator, reason);
        todo!()
    }
}
