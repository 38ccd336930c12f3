//! The RabbitMQ topology of the bus: queue and exchange names, their arguments, the idempotent
//! declaration at start-up, the definitions exported for `rabbitmqctl import_definitions`, and
//! its deletion.
//!
//! Per route `R` with prefix `P`:
//! - `P.R.p{n}`: partition work queues (quorum, single active consumer, delivery limit,
//!   dead-lettered at least once to `P.R.dead`, publishes refused when full);
//! - `P.R.dead`: what exceeded the delivery limit; the bus drains it into the park store;
//! - `P.R.retry.{ms}ms`: one per delay tier (quorum, message TTL, dead-lettered at least once
//!   through the default exchange with the routing key the message was published with, i.e.
//!   back to its partition queue), fed by a fanout exchange of the same name bound to it.

use crate::{BusConfig, BusError};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};
use serde_json::{Value, json};
use std::time::Duration;

/// The partition queue `n` of a route.
pub(crate) fn partition_queue(prefix: &str, route: &str, n: u16) -> String {
    format!("{prefix}.{route}.p{n}")
}

/// The dead queue of a route.
pub(crate) fn dead_queue(prefix: &str, route: &str) -> String {
    format!("{prefix}.{route}.dead")
}

/// The retry queue (and its fanout exchange) of a route for one delay tier.
pub(crate) fn retry_queue(prefix: &str, route: &str, tier: Duration) -> String {
    format!("{prefix}.{route}.retry.{}ms", tier.as_millis())
}

/// A queue argument value.
#[derive(Clone, Debug)]
enum Arg {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Arg {
    fn amqp(&self) -> AMQPValue {
        match self {
            Arg::Str(s) => AMQPValue::LongString(s.as_str().into()),
            Arg::Int(i) => AMQPValue::LongLongInt(*i),
            Arg::Bool(b) => AMQPValue::Boolean(*b),
        }
    }

    fn json(&self) -> Value {
        match self {
            Arg::Str(s) => json!(s),
            Arg::Int(i) => json!(i),
            Arg::Bool(b) => json!(b),
        }
    }
}

/// One durable queue with its arguments.
#[derive(Clone, Debug)]
struct QueueDef {
    name: String,
    args: Vec<(&'static str, Arg)>,
}

impl QueueDef {
    fn field_table(&self) -> FieldTable {
        let mut t = FieldTable::default();
        for (k, v) in &self.args {
            t.insert((*k).into(), v.amqp());
        }
        t
    }
}

fn quorum() -> (&'static str, Arg) {
    ("x-queue-type", Arg::Str("quorum".into()))
}

/// Every queue of the configuration, in declaration order.
fn queues(config: &BusConfig) -> Vec<QueueDef> {
    let p = &config.prefix;
    let mut out = Vec::new();
    for r in &config.routes {
        out.push(QueueDef {
            name: dead_queue(p, &r.name),
            args: vec![quorum()],
        });
        for n in 0..r.partitions {
            out.push(QueueDef {
                name: partition_queue(p, &r.name, n),
                args: vec![
                    quorum(),
                    ("x-single-active-consumer", Arg::Bool(true)),
                    (
                        "x-delivery-limit",
                        Arg::Int(i64::from(config.delivery_limit)),
                    ),
                    ("x-dead-letter-exchange", Arg::Str(String::new())),
                    (
                        "x-dead-letter-routing-key",
                        Arg::Str(dead_queue(p, &r.name)),
                    ),
                    ("x-dead-letter-strategy", Arg::Str("at-least-once".into())),
                    ("x-overflow", Arg::Str("reject-publish".into())),
                ],
            });
        }
        for tier in &config.retry_delays {
            let ttl = i64::try_from(tier.as_millis()).unwrap_or(i64::MAX);
            out.push(QueueDef {
                name: retry_queue(p, &r.name, *tier),
                args: vec![
                    quorum(),
                    ("x-message-ttl", Arg::Int(ttl)),
                    // No routing key: an expired message keeps the routing key it was
                    // published with (its partition queue) and goes back there.
                    ("x-dead-letter-exchange", Arg::Str(String::new())),
                    ("x-dead-letter-strategy", Arg::Str("at-least-once".into())),
                    ("x-overflow", Arg::Str("reject-publish".into())),
                ],
            });
        }
    }
    out
}

/// The fanout exchanges (one per retry queue, same name, bound to it).
fn exchanges(config: &BusConfig) -> Vec<String> {
    config
        .routes
        .iter()
        .flat_map(|r| {
            config
                .retry_delays
                .iter()
                .map(|t| retry_queue(&config.prefix, &r.name, *t))
        })
        .collect()
}

/// The RabbitMQ definitions (vhost `/`) of the topology of `config`: queues, exchanges and
/// bindings, in the format of `rabbitmqctl import_definitions`. The committed
/// `deploy/rabbitmq/definitions.json` is this for the standard routes and prefix `lienthong`.
pub fn definitions(config: &BusConfig) -> Value {
    let queues: Vec<Value> = queues(config)
        .into_iter()
        .map(|q| {
            let args: serde_json::Map<String, Value> = q
                .args
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.json()))
                .collect();
            json!({
                "name": q.name,
                "vhost": "/",
                "durable": true,
                "auto_delete": false,
                "arguments": args,
            })
        })
        .collect();
    let names = exchanges(config);
    let exchanges: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({
                "name": n,
                "vhost": "/",
                "type": "fanout",
                "durable": true,
                "auto_delete": false,
                "internal": false,
                "arguments": {},
            })
        })
        .collect();
    let bindings: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({
                "source": n,
                "vhost": "/",
                "destination": n,
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
            })
        })
        .collect();
    json!({
        "queues": queues,
        "exchanges": exchanges,
        "bindings": bindings,
    })
}

/// Whether a lapin error is the broker's `PRECONDITION_FAILED` (inequivalent arguments).
pub(crate) fn precondition_failed(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(a)
        if *a.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
}

/// Whether a lapin error is the broker's `NOT_FOUND` (missing queue or exchange).
pub(crate) fn not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(a)
        if *a.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
}

/// The broker's text of a protocol error, or the error itself.
pub(crate) fn broker_text(e: &lapin::Error) -> String {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(a) => a.get_message().to_string(),
        _ => e.to_string(),
    }
}

pub(crate) fn unavailable(what: &str, e: &lapin::Error) -> BusError {
    BusError::Unavailable {
        backend: "rabbitmq",
        detail: format!("{what}: {e}"),
    }
}

fn topology_error(name: &str, kind: &str, e: &lapin::Error) -> BusError {
    if precondition_failed(e) {
        BusError::Topology {
            queue: name.to_string(),
            detail: format!(
                "the existing {kind} disagrees with the bus configuration (broker: {}); fix: \
                 delete the {kind} (after moving its messages away) so the bus declares it again, \
                 or align deploy/rabbitmq/definitions.json and the bus configuration",
                broker_text(e)
            ),
        }
    } else {
        unavailable(&format!("declaring {kind} {name}"), e)
    }
}

/// Declares the whole topology on a fresh channel (idempotent: declaring what exists with the
/// same arguments is a no-op). A disagreeing queue gives [`BusError::Topology`] naming it.
pub(crate) async fn declare(conn: &Connection, config: &BusConfig) -> Result<(), BusError> {
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| unavailable("opening a channel to declare the topology", &e))?;
    let res = declare_on(&ch, config).await;
    if ch.status().connected() {
        let _ = ch.close(200, "topology declared".into()).await;
    }
    res
}

async fn declare_on(ch: &Channel, config: &BusConfig) -> Result<(), BusError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for q in queues(config) {
        ch.queue_declare(q.name.as_str().into(), durable, q.field_table())
            .await
            .map_err(|e| topology_error(&q.name, "queue", &e))?;
    }
    for x in exchanges(config) {
        ch.exchange_declare(
            x.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| topology_error(&x, "exchange", &e))?;
        ch.queue_bind(
            x.as_str().into(),
            x.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| topology_error(&x, "binding", &e))?;
    }
    Ok(())
}

/// Every queue name and exchange name of the topology (for deletion).
pub(crate) fn names(config: &BusConfig) -> (Vec<String>, Vec<String>) {
    (
        queues(config).into_iter().map(|q| q.name).collect(),
        exchanges(config),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, RouteSpec};

    #[test]
    fn names_and_arguments() {
        let mut c = BusConfig::new(
            Backend::Amqp {
                url: String::new(),
                store_url: String::new(),
            },
            vec![RouteSpec::new("dossier.sync", 2)],
        );
        c.retry_delays = vec![Duration::from_secs(5)];
        let d = definitions(&c);
        let q = d["queues"].as_array().expect("queues");
        let names: Vec<&str> = q.iter().filter_map(|q| q["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "lienthong.dossier.sync.dead",
                "lienthong.dossier.sync.p0",
                "lienthong.dossier.sync.p1",
                "lienthong.dossier.sync.retry.5000ms"
            ]
        );
        assert_eq!(q[1]["arguments"]["x-delivery-limit"], json!(10));
        assert_eq!(
            q[1]["arguments"]["x-dead-letter-routing-key"],
            json!("lienthong.dossier.sync.dead")
        );
        assert_eq!(q[3]["arguments"]["x-message-ttl"], json!(5000));
        assert!(q[3]["arguments"].get("x-dead-letter-routing-key").is_none());
        assert_eq!(
            d["bindings"][0]["destination"],
            json!("lienthong.dossier.sync.retry.5000ms")
        );
    }
}
