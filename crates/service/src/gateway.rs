//! The running gateway: opens the journal and the bus named in the configuration, starts the
//! outbox relay, the `dossier.sync` route, the portal submission routes (`portal.delivery`,
//! `portal.status`), the refresh of the portal's procedure catalogue and the backpressure
//! watch, and serves the ingest API, the portal receiver and pull API, `/health` and
//! `/ready`, the admin API and `/metrics`. [`Gateway::stop`] shuts down in order: intake
//! first, then the routes finish the deliveries in hand, then the bus and the journal close.

use crate::auth::{TokenHash, Tokens};
use crate::catalogue::Catalogue;
use crate::config::{Config, redact};
use crate::edocs::EdocSettings;
use crate::edocs::api::EdocApi;
use crate::edocs::deliver::DeliverRoute;
use crate::edocs::receive::Receiver;
use crate::edocs::send::SendRoute;
use crate::ingest::{Ingest, router};
use crate::portal::{
    DeliveryRoute, DeliverySettings, Portal, StatusRoute, StatusSettings, WebhookTarget,
};
use crate::relay::{RelayConfig, run_relay};
use crate::sync::{SyncRoute, SyncSettings};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use lienthong_bus::{Backend, Bus, BusConfig, standard_routes};
use lienthong_dvcqg::client::{ClientConfig, DvcqgClient};
use lienthong_dvcqg::map::MappingConfig;
use lienthong_journal::{Journal, JournalOptions, Key, PersonalData};
use lienthong_provincial::validate::Policy;
use lienthong_vdxp::client::{VdxpClient, VdxpConfig};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Member names holding personal data in the formats the gateway stores (provincial format
/// and DVCQG items), encrypted at rest when the configuration names none.
pub const DEFAULT_PERSONAL_FIELDS: &[&str] = &[
    "identity_documents",
    "phone",
    "fax",
    "email",
    "address",
    "SoGiayToChuHoSo",
    "DinhDanhCHS",
    "SoDienThoai",
    "Fax",
    "Email",
    "SoCMNDNguoiNop",
    "DiaChiNguoiNop",
];

/// Why the gateway could not start; each names the part and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A secret is missing or unusable.
    #[error("{0}")]
    Secret(String),
    /// The journal cannot be opened.
    #[error("cannot open the journal {url}: {source}")]
    Journal {
        /// Its URL, password hidden.
        url: String,
        /// Why.
        source: lienthong_journal::JournalError,
    },
    /// The bus cannot be opened.
    #[error("cannot open the bus: {0}")]
    Bus(#[from] lienthong_bus::BusError),
    /// The DVCQG client cannot be built.
    #[error("cannot set up the DVCQG client: {0}")]
    Dvcqg(String),
    /// The portal submission routes cannot start (configuration).
    #[error("portal submissions: {0}")]
    Portal(String),
    /// The sync route's settings are unusable.
    #[error("sync route: {0}")]
    Sync(String),
    /// The document exchange side cannot start (configuration).
    #[error("document exchange (vdxp): {0}")]
    Vdxp(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A started gateway.
pub struct Gateway {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    bus: Bus,
    journal: Journal,
    maintenance: Arc<AtomicBool>,
}

/// What `/health` and `/ready` look at.
struct Ops {
    journal: Journal,
    bus: Bus,
    sync: Option<Arc<SyncRoute>>,
    maintenance: Arc<AtomicBool>,
    stopping: watch::Receiver<bool>,
}

impl Gateway {
    /// Starts everything the configuration names; `env` gives the secrets (the process
    /// environment in production).
    pub async fn start(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Gateway, StartError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        crate::metrics::handle();
        let data_dir = &config.gateway.data_dir;
        std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let node = config.node_name();

        // The journal.
        let url = config.journal_url();
        let mut jo = JournalOptions::new(url.clone());
        jo.max_connections = config.journal.max_connections;
        jo.body_retention =
            jiff::SignedDuration::from_hours(24 * i64::from(config.journal.body_retention_days));
        let key = match env(&config.journal.encryption_key_env).filter(|k| !k.trim().is_empty()) {
            Some(k) => Some(Key::parse(k.trim()).map_err(|e| {
                StartError::Secret(format!(
                    "the key in {} is unusable: {e}",
                    config.journal.encryption_key_env
                ))
            })?),
            None => None,
        };
        jo.personal_data = PersonalData {
            fields: config.journal.personal_fields.clone().unwrap_or_else(|| {
                DEFAULT_PERSONAL_FIELDS
                    .iter()
                    .map(|s| (*s).to_string())
                    .collect()
            }),
            key,
            encrypt_opaque: true,
        };
        let journal = Journal::open(&jo)
            .await
            .map_err(|source| StartError::Journal {
                url: redact(&url),
                source,
            })?;

        // The bus.
        let backend = match &config.bus.amqp_url {
            Some(amqp) => Backend::Amqp {
                url: amqp.clone(),
                store_url: config.bus.store_url.clone().unwrap_or_else(|| {
                    if url.starts_with("postgres") {
                        url.clone()
                    } else {
                        format!(
                            "sqlite://{}?mode=rwc",
                            data_dir.join("bus-store.db").display()
                        )
                    }
                }),
            },
            None => Backend::Embedded {
                path: data_dir.join("bus.db"),
            },
        };
        let mut bc = BusConfig::new(backend, standard_routes());
        bc.prefix = config.bus.prefix.clone();
        bc.max_attempts = config.bus.max_attempts;
        bc.delivery_limit = config.bus.delivery_limit;
        bc.retry_delays = config
            .bus
            .retry_delays_secs
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect();
        let bus = Bus::open(bc).await?;

        let (shutdown, stopping) = watch::channel(false);
        let mut tasks = Vec::new();

        // The outbox relay.
        let mut rc = RelayConfig::default();
        rc.options.owner = node.clone();
        tasks.push(tokio::spawn(run_relay(
            journal.clone(),
            bus.clone(),
            rc,
            stopping.clone(),
        )));

        // The sync route, when the portal is configured.
        let mut portal_client = None;
        let mut ping_config = None;
        let sync = match &config.dvcqg {
            None => None,
            Some(p) => {
                let password = env(&p.password_env)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        StartError::Secret(format!(
                            "the environment variable {} (the DVCQG password) is not set",
                            p.password_env
                        ))
                    })?;
                let cc = ClientConfig {
                    adapter_url: p.adapter_url.clone(),
                    auth_endpoint: p.auth_endpoint.clone(),
                    integration_endpoint: p.integration_endpoint.clone(),
                    share_endpoint: p.share_endpoint.clone(),
                    username: p.username.clone(),
                    password,
                    dstcode: p.dstcode.clone(),
                    madonvi: p.madonvi.clone(),
                    timeout_ms: p.timeout_ms,
                    ..ClientConfig::default()
                };
                ping_config = Some(cc.clone());
                let client = DvcqgClient::new(cc).map_err(|e| StartError::Dvcqg(e.to_string()))?;
                // The procedure catalogue, refreshed in the background.
                let catalogue = Arc::new(Catalogue::new(
                    client.clone(),
                    Duration::from_secs(p.catalogue_ttl_secs),
                ));
                tasks.push(tokio::spawn(catalogue.clone().run(stopping.clone())));
                let settings = SyncSettings {
                    mapping: MappingConfig {
                        procedure_map: config.mapping.procedure_map.clone(),
                        ..MappingConfig::default()
                    },
                    breaker: lienthong_workflow::BreakerConfig {
                        failure_threshold: p.breaker_failures,
                        cool_down: Duration::from_secs(p.breaker_open_secs),
                        ..lienthong_workflow::BreakerConfig::default()
                    },
                    owner: node.clone(),
                    // Five calls' worth (five minutes at the default 60 s timeout): one
                    // call takes at most twice the timeout, and the claim is renewed
                    // before each; a node that dies holds its dossiers this long (at
                    // least 1 s: a timeout of 0 must not make the claim useless).
                    lease: jiff::SignedDuration::from_millis(
                        i64::try_from(p.timeout_ms.saturating_mul(5).max(1_000))
                            .unwrap_or(i64::MAX),
                    ),
                    catalogue: Some(catalogue),
                    lanes: p.sync_lanes as usize,
                    ..SyncSettings::default()
                };
                portal_client = Some(client.clone());
                let route = Arc::new(
                    SyncRoute::new(journal.clone(), client, settings)
                        .map_err(|e| StartError::Sync(e.to_string()))?,
                );
                let (r, b, s) = (route.clone(), bus.clone(), stopping.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = r.run(&b, s).await {
                        tracing::error!(error = %e, "the dossier.sync route stopped");
                    }
                }));
                Some(route)
            }
        };

        let maintenance = Arc::new(AtomicBool::new(config.gateway.maintenance));

        // Portal submissions: the webhook route, and the status route when the portal is
        // configured.
        let portal_state = match &config.portal {
            None => None,
            Some(p) => {
                let settings = DeliverySettings {
                    webhooks: webhook_targets(config, p, env)?,
                    timeout: Duration::from_secs(p.webhook_timeout_secs.max(1)),
                    ..DeliverySettings::default()
                };
                let route = Arc::new(
                    DeliveryRoute::new(journal.clone(), settings)
                        .map_err(|e| StartError::Portal(e.to_string()))?,
                );
                let (b, s) = (bus.clone(), stopping.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = route.run(&b, s).await {
                        tracing::error!(error = %e, "the portal.delivery route stopped");
                    }
                }));
                if let Some(client) = portal_client.take() {
                    let mut route =
                        StatusRoute::new(journal.clone(), client, StatusSettings::default())
                            .map_err(|e| StartError::Portal(e.to_string()))?;
                    // One breaker per partner: the sync route's.
                    if let Some(sync) = &sync {
                        route = route.with_breaker(sync.breaker());
                    }
                    let route = Arc::new(route);
                    let (b, s) = (bus.clone(), stopping.clone());
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = route.run(&b, s).await {
                            tracing::error!(error = %e, "the portal.status route stopped");
                        }
                    }));
                }
                let token = TokenHash::parse(&p.receiver_token_sha256).ok_or_else(|| {
                    StartError::Portal(
                        "portal.receiver_token_sha256 is not 64 hex digits".to_owned(),
                    )
                })?;
                Some((
                    Arc::new(Portal {
                        journal: journal.clone(),
                        tokens: Tokens::from_config(config),
                        receiver_token: token,
                        maintenance: maintenance.clone(),
                        max_request_bytes: config.gateway.max_request_bytes,
                    }),
                    p.receiver_path.clone(),
                ))
            }
        };

        // The document exchange axis: send route, delivery route, the receiving loops.
        let mut vdxp_health = None;
        let edoc_api = match &config.vdxp {
            None => None,
            Some(v) => {
                let secret = env(&v.secret_env)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        StartError::Secret(format!(
                            "the environment variable {} (the axis secret) is not set",
                            v.secret_env
                        ))
                    })?;
                let client = VdxpClient::new(VdxpConfig {
                    base_url: v.base_url.clone(),
                    systemid: v.systemid.clone(),
                    secret,
                    timeout_ms: v.timeout_ms,
                    ..VdxpConfig::default()
                })
                .map_err(|e| StartError::Vdxp(e.to_string()))?;
                let hooks = edoc_webhooks(config, v, env)?;
                let settings = Arc::new(EdocSettings::from_config(v, hooks.clone(), node.clone()));
                let send = Arc::new(SendRoute::new(journal.clone(), client.clone()));
                let (b, s) = (bus.clone(), stopping.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = send.run(&b, s).await {
                        tracing::error!(error = %e, "the document.outbound route stopped");
                    }
                }));
                let deliver = Arc::new(
                    DeliverRoute::new(journal.clone(), hooks, Duration::from_secs(10))
                        .map_err(StartError::Vdxp)?,
                );
                let (b, s) = (bus.clone(), stopping.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = deliver.run(&b, s).await {
                        tracing::error!(error = %e, "the document.inbound route stopped");
                    }
                }));
                let receiver = Arc::new(Receiver::new(journal.clone(), client, settings.clone()));
                vdxp_health = Some(receiver.health());
                tasks.push(tokio::spawn(receiver.run(stopping.clone())));
                Some(Arc::new(EdocApi {
                    journal: journal.clone(),
                    tokens: Tokens::from_config(config),
                    settings,
                    maintenance: maintenance.clone(),
                    max_request_bytes: config.gateway.max_request_bytes,
                }))
            }
        };

        // Backpressure: intake slows down while the sync route is far behind.
        let pressure = Arc::new(AtomicU64::new(0));
        {
            let (bus, pressure, mut stop) = (bus.clone(), pressure.clone(), stopping.clone());
            let limit = config.bus.backpressure_depth;
            tasks.push(tokio::spawn(async move {
                loop {
                    let behind = bus.depth("dossier.sync").await.unwrap_or(0);
                    pressure.store(
                        if limit > 0 && behind > limit { 5 } else { 0 },
                        Ordering::Relaxed,
                    );
                    if crate::relay::pause(&mut stop, Duration::from_secs(2)).await {
                        break;
                    }
                }
            }));
        }

        // HTTP: ingest + health.
        let ingest = Arc::new(Ingest {
            journal: journal.clone(),
            tokens: Tokens::from_config(config),
            policy: Policy {
                own_code_overrides: config.mapping.own_codes.clone(),
            },
            maintenance: maintenance.clone(),
            pressure,
            max_request_bytes: config.gateway.max_request_bytes,
        });
        let sessions = Arc::new(crate::session::Sessions::default());
        let admin = Arc::new(crate::admin::Admin {
            bus: bus.clone(),
            journal: journal.clone(),
            tokens: Tokens::from_config(config),
            maintenance: maintenance.clone(),
            sync: sync.clone(),
            partners: crate::partners::Partners {
                dvcqg: ping_config,
                sync: sync.clone(),
            },
            sessions: sessions.clone(),
            vdxp: vdxp_health,
        });
        let session_api = Arc::new(crate::session::SessionApi {
            tokens: Tokens::from_config(config),
            sessions,
            journal: journal.clone(),
        });
        let scrape = Arc::new(crate::metrics::Scrape {
            bus: bus.clone(),
            sync: sync.clone(),
        });
        let ops = Arc::new(Ops {
            journal: journal.clone(),
            bus: bus.clone(),
            sync,
            maintenance: maintenance.clone(),
            stopping: stopping.clone(),
        });
        let mut app = router(ingest);
        if let Some((portal, path)) = portal_state {
            app = app.merge(crate::portal::router(portal, &path));
        }
        if let Some(api) = edoc_api {
            app = app.merge(crate::edocs::api::router(api));
        }
        let app = app
            .merge(
                Router::new()
                    .route("/health", get(health))
                    .route("/ready", get(ready))
                    .with_state(ops),
            )
            .merge(crate::admin::router(admin))
            .merge(crate::session::router(session_api))
            .merge(crate::metrics::router(scrape))
            // The description of the ingest API, without authentication.
            .merge(crate::openapi::router())
            .merge(crate::ui::router());
        let listener = tokio::net::TcpListener::bind(&config.gateway.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.gateway.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.gateway.listen.clone(),
            source,
        })?;
        let mut stop = stopping.clone();
        tasks.insert(
            0,
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { crate::relay::stopped(&mut stop).await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the HTTP server stopped");
                }
            }),
        );
        tracing::info!(%addr, node = %node, bus = bus.backend_name(), "gateway started");
        Ok(Gateway {
            addr,
            shutdown,
            tasks,
            bus,
            journal,
            maintenance,
        })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The maintenance switch (intake answers 503 while it is on).
    pub fn maintenance(&self) -> &Arc<AtomicBool> {
        &self.maintenance
    }

    /// The bus (for operator views).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The journal (for operator views).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Stops intake, lets the routes finish the deliveries in hand, closes the bus and the
    /// journal.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.bus.close().await;
        self.journal.close().await;
        tracing::info!("gateway stopped");
    }
}

/// The webhooks of `[portal]` with their clients' units and secrets.
fn webhook_targets(
    config: &Config,
    p: &crate::config::Portal,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<WebhookTarget>, StartError> {
    p.webhooks
        .iter()
        .map(|w| {
            let client = config
                .clients
                .iter()
                .find(|c| c.name == w.client)
                .ok_or_else(|| {
                    StartError::Portal(format!("webhook for unknown client {:?}", w.client))
                })?;
            let secret = env(&w.secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    StartError::Secret(format!(
                        "the environment variable {} (the webhook secret of client {}) is not set",
                        w.secret_env, w.client
                    ))
                })?;
            Ok(WebhookTarget {
                client: client.name.clone(),
                units: (!client.units.iter().any(|u| u == "*")).then(|| client.units.clone()),
                url: w.url.clone(),
                secret: secret.into_bytes(),
            })
        })
        .collect()
}

/// The webhooks of `[vdxp]` with their clients' units and secrets.
fn edoc_webhooks(
    config: &Config,
    v: &crate::config::Vdxp,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<WebhookTarget>, StartError> {
    v.webhooks
        .iter()
        .map(|w| {
            let client = config
                .clients
                .iter()
                .find(|c| c.name == w.client)
                .ok_or_else(|| {
                    StartError::Vdxp(format!("webhook for unknown client {:?}", w.client))
                })?;
            let secret = env(&w.secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    StartError::Secret(format!(
                        "the environment variable {} (the document webhook secret of client {}) is not set",
                        w.secret_env, w.client
                    ))
                })?;
            Ok(WebhookTarget {
                client: client.name.clone(),
                units: (!client.units.iter().any(|u| u == "*")).then(|| client.units.clone()),
                url: w.url.clone(),
                secret: secret.into_bytes(),
            })
        })
        .collect()
}

async fn health(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    let journal = match ops.journal.dossier_state("-").await {
        Ok(_) => json!({ "status": "up" }),
        Err(e) => json!({ "status": "down", "error": e.to_string() }),
    };
    let bus = match ops.bus.depth("dossier.sync").await {
        Ok(d) => json!({ "status": "up", "backend": ops.bus.backend_name(), "sync_depth": d }),
        Err(e) => {
            json!({ "status": "down", "backend": ops.bus.backend_name(), "error": e.to_string() })
        }
    };
    let dvcqg = match &ops.sync {
        None => json!({ "status": "not configured" }),
        Some(s) => json!({ "breaker": format!("{:?}", s.breaker_state()) }),
    };
    let maintenance = ops.maintenance.load(Ordering::Relaxed);
    let down = journal["status"] == "down" || bus["status"] == "down";
    let status = if down || maintenance {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({
            "status": if down { "down" } else if maintenance { "maintenance" } else { "up" },
            "checks": { "journal": journal, "bus": bus, "dvcqg": dvcqg },
        })),
    )
}

async fn ready(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    if *ops.stopping.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping")
    } else {
        (StatusCode::OK, "ready")
    }
}
