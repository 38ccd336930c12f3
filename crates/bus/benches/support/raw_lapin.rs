//! The ceiling of RabbitMQ on this machine: a raw lapin publish/consume loop, shared by the
//! `bus` benchmark and the gateway's `load` benchmark (included with `#[path]`).
//!
//! One quorum queue, persistent messages, publisher confirms with a window, manual acks with
//! a prefetch, one publishing and one consuming connection (as the bus does: the broker runs
//! each connection's frames in its own processes, and an alarm blocks only publishers).

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// `n` messages of `size` bytes published and consumed at the same time; the time taken.
pub async fn raw_lapin(url: &str, n: usize, size: usize, window: usize, prefetch: u16) -> Duration {
    let queue = format!("bench-raw-{}-{size}", std::process::id());
    // One connection to publish and one to consume, as the bus does (the broker runs each
    // connection's frames in its own processes, and an alarm blocks only publishers).
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let consume_conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let publish = conn.create_channel().await.expect("channel");
    let consume = consume_conn.create_channel().await.expect("channel");
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    publish
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .expect("declare");
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    consume
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .expect("qos");
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let start = Instant::now();
    let mut consumer = consume
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let reader = tokio::spawn(async move {
        for _ in 0..n {
            let d = consumer
                .next()
                .await
                .expect("delivery")
                .expect("delivery ok");
            d.ack(BasicAckOptions::default()).await.expect("ack");
        }
        // Handed back so that it is not cancelled while the queue is deleted.
        consumer
    });
    let mut pending: VecDeque<_> = VecDeque::with_capacity(window);
    for j in 0..n {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(format!("m{j}").into());
        let confirm = publish
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                props,
            )
            .await
            .expect("publish");
        pending.push_back(confirm);
        if pending.len() == window {
            let oldest = pending.pop_front().expect("non-empty window");
            assert!(oldest.await.expect("confirm").is_ack());
        }
    }
    for confirm in pending {
        assert!(confirm.await.expect("confirm").is_ack());
    }
    let consumer = reader.await.expect("consumer task");
    let took = start.elapsed();
    let _ = consume.close(200, "bench done".into()).await;
    drop(consumer);
    publish
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("delete");
    let _ = conn.close(200, "bench done".into()).await;
    let _ = consume_conn.close(200, "bench done".into()).await;
    took
}
