//! Test support: the same test body runs on SQLite (a temporary file) and on PostgreSQL
//! (`LIENTHONG_TEST_DATABASE_URL`, each test in its own schema, dropped at the end).

#![allow(dead_code, missing_docs)]

use lienthong_journal::{Journal, JournalOptions, Key, PersonalData};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Where a test's journal lives.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub url: String,
    dir: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn options(&self) -> JournalOptions {
        let mut o = JournalOptions::new(&self.url);
        o.personal_data = personal_data();
        o
    }

    pub async fn open(&self) -> Journal {
        Journal::open(&self.options()).await.expect("open journal")
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

pub fn personal_data() -> PersonalData {
    PersonalData {
        fields: vec![
            "identity_documents".into(),
            "phone".into(),
            "address".into(),
            "email".into(),
        ],
        key: Some(Key::from_bytes([42; 32])),
        encrypt_opaque: true,
    }
}

pub fn sqlite_db() -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lienthong-journal-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TestDb {
        url: format!("sqlite://{}/journal.db", dir.display()),
        dir: Some(dir),
        pg: None,
    }
}

pub fn pg_base_url() -> Option<String> {
    match std::env::var("LIENTHONG_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: LIENTHONG_TEST_DATABASE_URL is not set");
            None
        }
    }
}

async fn admin(base: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("connect to the test PostgreSQL")
}

pub async fn pg_db() -> Option<TestDb> {
    let base = pg_base_url()?;
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let schema = format!("j_{}_{n}", std::process::id());
    let pool = admin(&base).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop schema");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(TestDb {
        url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
        dir: None,
        pg: Some((base, schema)),
    })
}

pub async fn cleanup(db: &TestDb) {
    if let Some(dir) = &db.dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some((base, schema)) = &db.pg {
        let pool = admin(base).await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}

/// Runs `body` on `db`, cleans up even when it panics, then passes the panic on.
pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let res = tokio::spawn(body(db.clone())).await;
    cleanup(&db).await;
    if let Err(e) = res {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// One test body, two tests: `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::sqlite_db(), super::$body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::pg_db().await {
                    $crate::common::run(db, super::$body).await;
                }
            }
        }
    };
}
