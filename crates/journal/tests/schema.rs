//! The two migration directories describe the same schema.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_are_equivalent() {
    let lite_db = common::sqlite_db();
    let lite = lite_db.open().await;
    let sqlite = lite.describe_schema().await.expect("describe sqlite");
    lite.close().await;
    common::cleanup(&lite_db).await;
    assert!(
        sqlite.contains_key("dossier")
            && sqlite.contains_key("message")
            && sqlite.contains_key("audit")
    );
    assert!(sqlite.values().all(|t| !t.columns.is_empty()));
    for (name, t) in &sqlite {
        for c in &t.columns {
            assert!(
                !matches!(c.ty, lienthong_journal::schema::ColumnType::Other(_)),
                "{name}.{} has a type outside the common set: {:?}",
                c.name,
                c.ty
            );
        }
    }
    let Some(pg_db) = common::pg_db().await else {
        return;
    };
    let pg = pg_db.open().await;
    let postgres = pg.describe_schema().await.expect("describe postgres");
    pg.close().await;
    common::cleanup(&pg_db).await;
    let names = |s: &lienthong_journal::schema::Schema| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&sqlite), names(&postgres), "tables differ");
    for (name, t) in &sqlite {
        let p = &postgres[name];
        assert_eq!(t.columns, p.columns, "columns of {name} differ");
        assert_eq!(t.indexes, p.indexes, "indexes of {name} differ");
    }
}
