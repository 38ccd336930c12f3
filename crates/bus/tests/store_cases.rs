//! The SQL store (parked messages, claim-check bodies): the same cases on SQLite (a temporary
//! file) and on PostgreSQL when `LIENTHONG_TEST_DATABASE_URL` is set.

use jiff::Timestamp;
use lienthong_bus::store::Store;
use lienthong_bus::{ParkedFilter, ParkedMessage, ParkedStatus, Selection};
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

/// A prefix unique to this process and test (others share the PostgreSQL database).
fn prefix() -> String {
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Timestamp::now().as_millisecond() % 1_000_000
    )
}

/// Later than every parking of the cases.
const LATER: Timestamp = Timestamp::MAX;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + s).expect("valid time")
}

fn parked(route: &str, id: &str, key: &str, reason: &str, t: i64) -> ParkedMessage {
    ParkedMessage {
        id: id.into(),
        route: route.into(),
        key: key.into(),
        headers: BTreeMap::from([("content-type".to_string(), "application/json".to_string())]),
        body_size: 3,
        claim: None,
        reason: reason.into(),
        partner_code: None,
        attempts: 2,
        first_error: Some("first".into()),
        last_error: Some("last".into()),
        parked_at: at(t),
        status: ParkedStatus::Parked,
        resolved_by: None,
        resolved_at: None,
        resolution_reason: None,
    }
}

fn ids(v: &[ParkedMessage]) -> Vec<&str> {
    v.iter().map(|m| m.id.as_str()).collect()
}

fn all() -> ParkedFilter {
    ParkedFilter {
        status: None,
        ..ParkedFilter::default()
    }
}

/// `full_unicode`: the database lowercases every letter (PostgreSQL), not only ASCII (SQLite).
async fn cases(store: &Store, full_unicode: bool) {
    // Blobs: put is idempotent (the first body stays), get, delete.
    assert_eq!(store.get_blob("b1").await.expect("get"), None);
    store.put_blob("b1", b"hello").await.expect("put");
    store.put_blob("b1", b"other").await.expect("put again");
    assert_eq!(
        store.get_blob("b1").await.expect("get").as_deref(),
        Some(&b"hello"[..])
    );
    store.delete_blob("b1").await.expect("delete");
    store.delete_blob("b1").await.expect("delete again");
    assert_eq!(store.get_blob("b1").await.expect("get"), None);

    // Park: a few messages on two routes, one claim-checked.
    store
        .park(
            &parked("r1", "a", "k1", "Timeout from DVCQG", 1),
            Some(b"aaa"),
        )
        .await
        .expect("park a");
    let mut b = parked("r1", "b", "k2", "schema 100% invalid_x", 2);
    b.partner_code = Some("E42".into());
    store.park(&b, Some(b"bbb")).await.expect("park b");
    store
        .put_blob("claim-c", b"big body")
        .await
        .expect("blob c");
    let mut c = parked("r2", "c", "k1", "timeout again", 3);
    c.claim = Some("claim-c".into());
    c.body_size = 8;
    store.park(&c, None).await.expect("park c");

    // Newest first, every field back.
    let l = store
        .list_parked(&ParkedFilter::default())
        .await
        .expect("list");
    assert_eq!(ids(&l), ["c", "b", "a"]);
    assert_eq!(l[1], b);
    assert_eq!(l[0], c);
    assert_eq!(store.parked_count("r1").await.expect("count"), 2);
    assert_eq!(store.parked_count("r2").await.expect("count"), 1);
    assert_eq!(store.parked_count("r3").await.expect("count"), 0);

    // Filters.
    let f = |g: fn(&mut ParkedFilter)| {
        let mut f = all();
        g(&mut f);
        f
    };
    let list = |f: ParkedFilter| async move { store.list_parked(&f).await.expect("list") };
    assert_eq!(
        ids(&list(f(|f| f.route = Some("r1".into()))).await),
        ["b", "a"]
    );
    assert_eq!(
        ids(&list(f(|f| f.key = Some("k1".into()))).await),
        ["c", "a"]
    );
    assert_eq!(
        ids(&list(f(|f| f.ids = vec!["a".into(), "c".into(), "zz".into()])).await),
        ["c", "a"]
    );
    assert_eq!(
        ids(&list(f(|f| f.partner_code = Some("E42".into()))).await),
        ["b"]
    );
    assert_eq!(
        ids(&list(f(|f| f.reason_contains = Some("TIMEOUT".into()))).await),
        ["c", "a"]
    );
    // LIKE wildcards in the needle are literal.
    assert_eq!(
        ids(&list(f(|f| f.reason_contains = Some("100%".into()))).await),
        ["b"]
    );
    assert!(
        list(f(|f| f.reason_contains = Some("%".into())))
            .await
            .len()
            == 1
    );
    assert!(
        list(f(|f| f.reason_contains = Some("i_v".into())))
            .await
            .is_empty()
    );
    assert_eq!(ids(&list(f(|f| f.since = Some(at(2)))).await), ["c", "b"]);
    assert_eq!(ids(&list(f(|f| f.until = Some(at(2)))).await), ["a"]);
    assert_eq!(
        ids(&list(f(|f| {
            f.limit = 1;
            f.offset = 1
        }))
        .await),
        ["b"]
    );
    assert_eq!(
        list(f(|f| f.limit = 5000)).await.len(),
        3,
        "limit capped, not refused"
    );

    // select_parked: oldest first, with bodies; claim-checked ones with an empty body.
    let s = store
        .select_parked(&Selection::All, 10, LATER)
        .await
        .expect("select");
    let got: Vec<(&str, &[u8])> = s.iter().map(|(m, b)| (m.id.as_str(), &b[..])).collect();
    assert_eq!(got, [("a", &b"aaa"[..]), ("b", b"bbb"), ("c", b"")]);
    assert_eq!(s[2].0.claim.as_deref(), Some("claim-c"));
    let s = store
        .select_parked(&Selection::All, 1, LATER)
        .await
        .expect("select");
    assert_eq!(s.len(), 1);
    let s = store
        .select_parked(
            &Selection::One {
                route: "r1".into(),
                id: "b".into(),
            },
            10,
            LATER,
        )
        .await
        .expect("select one");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0.id, "b");
    let s = store
        .select_parked(
            &Selection::Filter(ParkedFilter {
                key: Some("k1".into()),
                status: None,
                limit: 1,
                ..ParkedFilter::default()
            }),
            10,
            LATER,
        )
        .await
        .expect("select filter");
    assert_eq!(s.len(), 2, "a filter's limit and status are ignored");

    // select_parked: only rows parked strictly before the given time.
    let s = store
        .select_parked(&Selection::All, 10, at(2))
        .await
        .expect("select before");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0.id, "a");

    // mark_replayed: only while parked, and only the parking that was selected.
    assert!(
        !store
            .mark_replayed("r1", "a", "ops0", at(9))
            .await
            .expect("replay another parking"),
        "parked_at differs: not marked"
    );
    assert!(
        store
            .mark_replayed("r1", "a", "ops1", at(1))
            .await
            .expect("replay")
    );
    assert!(
        !store
            .mark_replayed("r1", "a", "ops2", at(1))
            .await
            .expect("again")
    );
    let a = &list(f(|f| f.ids = vec!["a".into()])).await[0];
    assert_eq!(a.status, ParkedStatus::Replayed);
    assert_eq!(a.resolved_by.as_deref(), Some("ops1"));
    assert!(a.resolved_at.is_some());
    assert_eq!(store.parked_count("r1").await.expect("count"), 1);
    assert_eq!(
        ids(&store
            .list_parked(&ParkedFilter::default())
            .await
            .expect("list")),
        ["c", "b"]
    );
    assert_eq!(
        ids(&list(f(|f| f.status = Some(ParkedStatus::Replayed))).await),
        ["a"]
    );

    // discard: marks, keeps the row, deletes the claim blob; only still-parked rows.
    let n = store
        .discard(
            &Selection::Filter(ParkedFilter {
                key: Some("k1".into()),
                ..ParkedFilter::default()
            }),
            "ops3",
            "duplicate",
        )
        .await
        .expect("discard");
    assert_eq!(n, 1, "a is replayed already: only c");
    let c2 = &list(f(|f| f.ids = vec!["c".into()])).await[0];
    assert_eq!(c2.status, ParkedStatus::Discarded);
    assert_eq!(c2.resolved_by.as_deref(), Some("ops3"));
    assert_eq!(c2.resolution_reason.as_deref(), Some("duplicate"));
    assert_eq!(store.get_blob("claim-c").await.expect("get"), None);
    assert_eq!(
        store
            .discard(
                &Selection::One {
                    route: "r2".into(),
                    id: "c".into()
                },
                "x",
                "y"
            )
            .await
            .expect("discard again"),
        0
    );

    // Parking again overwrites and resets the status.
    let mut c3 = parked("r2", "c", "k9", "back again", 10);
    c3.attempts = 7;
    store.park(&c3, Some(b"new")).await.expect("park again");
    let back = &list(f(|f| f.ids = vec!["c".into()])).await[0];
    assert_eq!(back, &c3);
    assert_eq!(store.parked_count("r2").await.expect("count"), 1);

    // discard All.
    assert_eq!(
        store
            .discard(&Selection::All, "ops", "cleanup")
            .await
            .expect("discard all"),
        2
    );
    assert_eq!(
        store
            .list_parked(&ParkedFilter::default())
            .await
            .expect("list")
            .len(),
        0
    );
    assert_eq!(list(all()).await.len(), 3);

    // A replay that races with a new failure: the message is selected, published, fails
    // again and is parked again before the replay marks it. The mark must not resolve the
    // new parking, and the same replay must not select it again.
    let started = at(30);
    store
        .park(&parked("r9", "x", "k", "first failure", 20), Some(b"x"))
        .await
        .expect("park x");
    let page = store
        .select_parked(
            &Selection::One {
                route: "r9".into(),
                id: "x".into(),
            },
            10,
            started,
        )
        .await
        .expect("select x");
    assert_eq!(
        ids(&page.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>()),
        ["x"]
    );
    // Parked again (with the wall clock of the node that parked it: after the replay started).
    store
        .park(&parked("r9", "x", "k", "failed again", 31), Some(b"x"))
        .await
        .expect("park x again");
    assert!(
        !store
            .mark_replayed("r9", "x", "ops", page[0].0.parked_at)
            .await
            .expect("mark x"),
        "the new parking is not the one selected"
    );
    let x = &list(f(|f| f.ids = vec!["x".into()])).await[0];
    assert_eq!(x.status, ParkedStatus::Parked);
    assert_eq!(x.reason, "failed again");
    assert_eq!(x.resolved_by, None);
    assert!(
        store
            .select_parked(&Selection::All, 10, started)
            .await
            .expect("select again")
            .is_empty(),
        "parked after the replay started: not selected by it"
    );
    // A later replay takes it.
    let page = store
        .select_parked(&Selection::All, 10, at(32))
        .await
        .expect("later replay");
    assert_eq!(page.len(), 1);
    assert!(
        store
            .mark_replayed("r9", "x", "ops", page[0].0.parked_at)
            .await
            .expect("mark x later")
    );
    assert_eq!(store.parked_count("r9").await.expect("count"), 0);

    // reason_contains with Vietnamese letters: found in its exact case on both databases
    // (and without the diacritics' case only where the database lowercases them).
    store
        .park(
            &parked("vn", "v", "k", "Từ chối: ĐƠN VỊ không hợp lệ", 40),
            Some(b"v"),
        )
        .await
        .expect("park v");
    for needle in ["ĐƠN VỊ", "Từ chối", "từ chối", "KHôNG HợP"] {
        assert_eq!(
            ids(&list(ParkedFilter {
                reason_contains: Some(needle.into()),
                ..all()
            })
            .await),
            ["v"],
            "{needle}"
        );
    }
    let other_case = list(f(|f| f.reason_contains = Some("đơn vị".into()))).await;
    if full_unicode {
        assert_eq!(ids(&other_case), ["v"]);
    } else {
        assert!(other_case.is_empty(), "SQLite lowercases ASCII only");
    }
}

async fn drop_tables_sqlite(url: &str, prefix: &str) {
    let _ = (url, prefix); // The temporary file goes with its directory.
}

async fn drop_tables_pg(url: &str, prefix: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    for t in ["parked", "blobs"] {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {prefix}_{t}")))
            .execute(&pool)
            .await
            .expect("drop");
    }
    pool.close().await;
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lienthong-store-{}", prefix()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[tokio::test]
async fn store_on_sqlite() {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
    let p = prefix();
    let store = Store::open(&url, &p).await.expect("open");
    // Opening twice is idempotent.
    let again = Store::open(&url, &p).await.expect("open again");
    cases(&store, false).await;
    drop(again);
    drop_tables_sqlite(&url, &p).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn store_on_postgres() {
    let Ok(url) = std::env::var("LIENTHONG_TEST_DATABASE_URL") else {
        eprintln!("skipped: LIENTHONG_TEST_DATABASE_URL is not set");
        return;
    };
    let p = prefix();
    let store = Store::open(&url, &p).await.expect("open");
    let again = Store::open(&url, &p).await.expect("open again");
    drop(again);
    // Drop the tables even when a case fails.
    let outcome = tokio::spawn(async move { cases(&store, true).await }).await;
    drop_tables_pg(&url, &p).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn prefix_dots_and_dashes_become_underscores() {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
    let store = Store::open(&url, "a.b-c").await.expect("open");
    store.put_blob("x", b"1").await.expect("put");
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM a_b_c_blobs")
        .fetch_one(&pool)
        .await
        .expect("table a_b_c_blobs");
    assert_eq!(n, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    let e = Store::open("mysql://x", "p").await.err().expect("refused");
    assert!(matches!(e, lienthong_bus::BusError::Config(_)), "{e}");
}
