//! Confirmed publishing: messages are published on a confirm-mode channel taken exclusively
//! from the session's pool (on the publishing connection), pipelined within the confirm
//! window; a nack or a returned message is an error, a lost connection makes the unconfirmed
//! ones go out again on the next session. Everything, waiting for a session, the publishes
//! and the confirms, is bounded by the publish timeout (a connection blocked by a broker
//! alarm would otherwise make a publish wait forever).

use super::Shared;
use super::supervisor::{Session, wait_session};
use super::topology;
use crate::BusError;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::BasicPublishOptions;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use std::sync::atomic::Ordering;
use tokio::time::Instant;

/// One message ready for the wire.
pub(crate) struct Outgoing {
    /// Message id (`message_id` property).
    pub(crate) id: String,
    /// Exchange (`""` for the default exchange).
    pub(crate) exchange: String,
    /// Routing key (the partition queue).
    pub(crate) routing_key: String,
    pub(crate) headers: FieldTable,
    pub(crate) body: Bytes,
}

enum Failure {
    /// The broker refused a message: reported to the caller.
    Fatal(BusError),
    /// The channel or connection failed: publish the rest again.
    Lost(String),
}

impl Shared {
    /// Publishes every item and waits for its confirm; republishes what was not confirmed
    /// after a connection loss, until the publish timeout.
    pub(crate) async fn publish_confirmed(&self, items: &[Outgoing]) -> Result<(), BusError> {
        let deadline = Instant::now() + self.publish_timeout;
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut last_problem = String::new();
        while !pending.is_empty() {
            let session = wait_session(self, deadline, &last_problem).await?;
            // The whole attempt (channel, publishes, confirms) is bounded by the deadline: a
            // connection blocked by a broker alarm accepts nothing and confirms nothing.
            let attempt =
                tokio::time::timeout_at(deadline, self.publish_on(&session, items, &mut pending))
                    .await;
            let Ok(attempt) = attempt else {
                tracing::warn!(
                    unconfirmed = pending.len(),
                    timeout_s = self.publish_timeout.as_secs(),
                    "the broker did not confirm in time; giving up"
                );
                return Err(BusError::Unavailable {
                    backend: "rabbitmq",
                    detail: format!(
                        "the broker did not confirm {} message(s) within {} s (it may be \
                         blocking publishers under a memory or disk alarm)",
                        pending.len(),
                        self.publish_timeout.as_secs()
                    ),
                });
            };
            match attempt {
                Ok(()) => {}
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Lost(detail)) => {
                    tracing::warn!(
                        unconfirmed = pending.len(),
                        problem = %detail,
                        "publishing interrupted; publishing the unconfirmed messages again"
                    );
                    session.report_trouble();
                    last_problem = detail;
                    if Instant::now() >= deadline {
                        return Err(BusError::Unavailable {
                            backend: "rabbitmq",
                            detail: format!(
                                "{} message(s) not confirmed within {:?}: {last_problem}",
                                pending.len(),
                                self.publish_timeout
                            ),
                        });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
        Ok(())
    }

    async fn publish_on(
        &self,
        session: &Session,
        items: &[Outgoing],
        pending: &mut Vec<usize>,
    ) -> Result<(), Failure> {
        let ch = session
            .publish_channel()
            .await
            .map_err(|e| Failure::Lost(format!("opening a publish channel: {e}")))?;
        let window = self.config.confirm_window.max(1);
        let mut inflight = FuturesUnordered::new();
        let mut confirmed: Vec<usize> = Vec::new();
        let mut fatal: Option<BusError> = None;
        let mut lost: Option<String> = None;
        let mut keep_channel = true;

        let mut handle = |(idx, res): (usize, Result<Confirmation, lapin::Error>),
                          fatal: &mut Option<BusError>,
                          lost: &mut Option<String>,
                          keep: &mut bool| {
            let item: &Outgoing = &items[idx];
            match res {
                Ok(Confirmation::Ack(None)) => confirmed.push(idx),
                Ok(Confirmation::Ack(Some(ret))) | Ok(Confirmation::Nack(Some(ret))) => {
                    // lapin attaches a returned message to the next confirm it completes,
                    // which may belong to another message of the batch: name the returned
                    // one by its message id.
                    let id = ret
                        .delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| item.id.clone());
                    let queue = ret.delivery.routing_key.to_string();
                    fatal.get_or_insert(BusError::Returned {
                        id,
                        queue,
                        reply: format!("{} {}", ret.reply_code, ret.reply_text),
                    });
                }
                Ok(Confirmation::Nack(None)) => {
                    fatal.get_or_insert(BusError::Nacked {
                        id: item.id.clone(),
                    });
                }
                Ok(Confirmation::NotRequested) => {
                    *keep = false;
                    lost.get_or_insert("the channel was not in confirm mode".into());
                }
                Err(e) if topology::not_found(&e) => {
                    *keep = false;
                    fatal.get_or_insert(BusError::Returned {
                        id: item.id.clone(),
                        queue: if item.exchange.is_empty() {
                            item.routing_key.clone()
                        } else {
                            item.exchange.clone()
                        },
                        reply: topology::broker_text(&e),
                    });
                }
                Err(e) => {
                    *keep = false;
                    lost.get_or_insert(format!("waiting for a confirm: {e}"));
                }
            }
        };

        for &idx in pending.iter() {
            while inflight.len() >= window {
                if let Some(r) = inflight.next().await {
                    handle(r, &mut fatal, &mut lost, &mut keep_channel);
                }
            }
            if fatal.is_some() || lost.is_some() {
                break;
            }
            let item = &items[idx];
            let props = BasicProperties::default()
                .with_message_id(item.id.as_str().into())
                .with_delivery_mode(2)
                .with_headers(item.headers.clone());
            match ch
                .basic_publish(
                    item.exchange.as_str().into(),
                    item.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &item.body,
                    props,
                )
                .await
            {
                Ok(confirm) => inflight.push(async move { (idx, confirm.await) }),
                Err(e) => {
                    keep_channel = false;
                    if topology::not_found(&e) {
                        fatal.get_or_insert(BusError::Returned {
                            id: item.id.clone(),
                            queue: item.exchange.clone(),
                            reply: topology::broker_text(&e),
                        });
                    } else {
                        lost.get_or_insert(format!("publishing: {e}"));
                    }
                    break;
                }
            }
        }
        while let Some(r) = inflight.next().await {
            handle(r, &mut fatal, &mut lost, &mut keep_channel);
        }
        self.published
            .fetch_add(confirmed.len() as u64, Ordering::Relaxed);
        let mut done = vec![false; items.len()];
        for i in confirmed {
            done[i] = true;
        }
        pending.retain(|i| !done[*i]);
        if keep_channel {
            session.give_back(ch);
        } else if ch.status().connected() {
            let _ = ch.close(200, "publish channel replaced".into()).await;
        }
        if let Some(e) = fatal {
            return Err(Failure::Fatal(e));
        }
        if let Some(l) = lost {
            return Err(Failure::Lost(l));
        }
        Ok(())
    }
}
