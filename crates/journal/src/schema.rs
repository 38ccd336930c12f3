//! The schema as the database reports it, in a form where the two dialects compare equal:
//! tables, columns (normalised type, nullability, primary key position) and secondary
//! indexes (columns, uniqueness). The equivalence test of the two migration directories and
//! operators' checks use it.

use crate::error::Result;
use crate::{Backend, Journal};
use sqlx::Row;
use std::collections::BTreeMap;

/// A column type as both dialects agree on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnType {
    /// 64-bit integer (SQLite `INTEGER`/`BIGINT`, PostgreSQL `bigint`).
    Integer,
    /// Text.
    Text,
    /// Bytes (SQLite `BLOB`, PostgreSQL `bytea`).
    Bytes,
    /// Anything else, as the database names it (should not occur).
    Other(String),
}

impl ColumnType {
    fn normalise(declared: &str) -> ColumnType {
        match declared.trim().to_ascii_lowercase().as_str() {
            "integer" | "bigint" | "int8" => ColumnType::Integer,
            "text" => ColumnType::Text,
            "blob" | "bytea" => ColumnType::Bytes,
            other => ColumnType::Other(other.to_owned()),
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Normalised type.
    pub ty: ColumnType,
    /// Whether NULL is refused.
    pub not_null: bool,
    /// Position in the primary key (1-based), if part of it.
    pub primary_key: Option<u32>,
}

/// One secondary index (the primary key's own index is described by the columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// Whether unique.
    pub unique: bool,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Secondary indexes by name.
    pub indexes: BTreeMap<String, Index>,
}

/// The journal's tables by name (the migration bookkeeping table excluded).
pub type Schema = BTreeMap<String, Table>;

impl Journal {
    /// Describes the schema as the database reports it.
    pub async fn describe_schema(&self) -> Result<Schema> {
        match self.backend {
            Backend::Sqlite => self.describe_sqlite().await,
            Backend::Postgres => self.describe_postgres().await,
        }
    }

    async fn describe_sqlite(&self) -> Result<Schema> {
        let mut schema = Schema::new();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        for t in tables {
            let mut table = Table::default();
            let rows = sqlx::query(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
            )
            .bind(&t)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let pk: i64 = r.try_get(3)?;
                table.columns.push(Column {
                    name: r.try_get(0)?,
                    ty: ColumnType::normalise(&r.try_get::<String, _>(1)?),
                    not_null: r.try_get::<i64, _>(2)? != 0,
                    primary_key: (pk > 0).then_some(pk as u32),
                });
            }
            let indexes = sqlx::query(
                "SELECT name, \"unique\" FROM pragma_index_list($1) WHERE origin = 'c'",
            )
            .bind(&t)
            .fetch_all(&self.pool)
            .await?;
            for r in indexes {
                let name: String = r.try_get(0)?;
                let unique: i64 = r.try_get(1)?;
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&name)
                        .fetch_all(&self.pool)
                        .await?;
                table.indexes.insert(
                    name,
                    Index {
                        columns,
                        unique: unique != 0,
                    },
                );
            }
            schema.insert(t, table);
        }
        Ok(schema)
    }

    async fn describe_postgres(&self) -> Result<Schema> {
        let mut schema = Schema::new();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations' ORDER BY table_name",
        )
        .fetch_all(&self.pool)
        .await?;
        for t in tables {
            let mut table = Table::default();
            let pk: Vec<String> = sqlx::query_scalar(
                "SELECT kcu.column_name::text FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu \
                   ON kcu.constraint_name = tc.constraint_name \
                  AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name \
                 WHERE tc.table_schema = current_schema() AND tc.table_name = $1 \
                   AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position",
            )
            .bind(&t)
            .fetch_all(&self.pool)
            .await?;
            let rows = sqlx::query(
                "SELECT column_name::text, data_type::text, is_nullable::text \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind(&t)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let name: String = r.try_get(0)?;
                let primary_key = pk.iter().position(|c| *c == name).map(|i| i as u32 + 1);
                table.columns.push(Column {
                    ty: ColumnType::normalise(&r.try_get::<String, _>(1)?),
                    not_null: r.try_get::<String, _>(2)? == "NO",
                    primary_key,
                    name,
                });
            }
            let rows = sqlx::query(
                "SELECT i.relname::text, a.attname::text, \
                        CAST(CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS BIGINT) \
                 FROM pg_index ix \
                 JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE n.nspname = current_schema() AND t.relname = $1 \
                   AND NOT ix.indisprimary \
                 ORDER BY i.relname, k.ord",
            )
            .bind(&t)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let name: String = r.try_get(0)?;
                let column: String = r.try_get(1)?;
                let unique: i64 = r.try_get(2)?;
                let idx = table.indexes.entry(name).or_insert(Index {
                    columns: Vec::new(),
                    unique: unique != 0,
                });
                idx.columns.push(column);
            }
            schema.insert(t, table);
        }
        Ok(schema)
    }
}
