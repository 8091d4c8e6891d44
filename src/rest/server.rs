//! The axum router: Connect's paths, query parameters and status codes,
//! each handler a thin call into the [`Backend`].

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put, MethodRouter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json_};
use tokio_util::sync::CancellationToken;

use super::entities::{
    ConnectorInfo, ConnectorOffsets, CreateConnectorRequest, ErrorMessage, ServerInfo, WorkerStatus,
};
use super::{
    java_bool, logging, plugins, Backend, Health, ListenerAddr, RestError, REQUEST_TIMEOUT,
};
use crate::connect::config::{is_literal_secret, is_secret_name, HIDDEN};
use crate::connect::Props;
use crate::metrics::Registry;

type Shared = Arc<dyn Backend>;
type Params = Query<Vec<(String, String)>>;

/// A bound listener of the REST API.
pub type Listener = tokio::net::TcpListener;

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = ErrorMessage {
            error_code: self.status.as_u16(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// Serves the REST API and a worker's metrics (its Connect metrics and its
/// plugins', at `/metrics`) on each address. When `configured` (the worker
/// config names the listeners) every one must bind; the default listener
/// is skipped with an error in the log when its port is taken, so several
/// workers can share a host.
///
/// `https` listeners use `tls` (see [`super::https_config`]).
pub async fn serve_worker(
    listeners: &[ListenerAddr],
    configured: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    backend: Shared,
    stop: CancellationToken,
) -> Result<(), (SocketAddr, std::io::Error)> {
    let registry = crate::metrics::registry(|r| {
        crate::engine::metrics::register(r);
        crate::engine::plugin_metrics::register(r);
    });
    for listener in listeners {
        let addr = &listener.addr;
        let tls = if listener.https {
            let Some(tls) = tls.clone() else {
                return Err((
                    *addr,
                    std::io::Error::other("an https listener without TLS settings"),
                ));
            };
            Some(tls)
        } else {
            None
        };
        match bind(&[*addr]).await {
            Ok(bound) => {
                let bound = bound.into_iter().map(|l| (l, tls.clone())).collect();
                serve(bound, backend.clone(), registry.clone(), stop.clone())
            }
            Err((addr, e)) if !configured => tracing::error!(
                %addr,
                error = %e,
                "the REST API is not served: the default listener's port is taken; set listeners=http://host:port in the worker config"
            ),
            Err(failed) => return Err(failed),
        }
    }
    Ok(())
}

/// Binds every address; the error names the address that failed.
pub async fn bind(addrs: &[SocketAddr]) -> Result<Vec<Listener>, (SocketAddr, std::io::Error)> {
    let mut out = Vec::new();
    for addr in addrs {
        out.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| (*addr, e))?,
        );
    }
    Ok(out)
}

/// Serves the API on the listeners (HTTPS where TLS settings are given)
/// until `stop` is cancelled; `/metrics` renders `metrics`.
pub fn serve(
    listeners: Vec<(Listener, Option<Arc<rustls::ServerConfig>>)>,
    backend: Shared,
    metrics: Arc<Registry>,
    stop: CancellationToken,
) {
    let app = router(backend, metrics);
    for (listener, tls) in listeners {
        let addr = listener.local_addr().ok();
        let app = app.clone();
        let stop = stop.clone();
        let served = match tls {
            None => {
                tracing::info!(?addr, "REST API listening (http)");
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                })
            }
            Some(tls) => {
                tracing::info!(?addr, "REST API listening (https)");
                let listener = match super::tls::TlsListener::new(listener, tls) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(?addr, error = %e, "REST API server failed");
                        continue;
                    }
                };
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                })
            }
        };
        tokio::spawn(async move {
            if let Ok(Err(e)) = served.await {
                tracing::error!(?addr, error = %e, "REST API server failed");
            }
        });
    }
}

/// Adds `path` and `path/` (JAX-RS answers both).
fn both(router: Router<Shared>, path: &str, method: MethodRouter<Shared>) -> Router<Shared> {
    let router = router.route(path, method.clone());
    if path == "/" {
        router
    } else {
        router.route(&format!("{path}/"), method)
    }
}

/// The whole API over `backend`, with `metrics` at `/metrics`.
pub fn router(backend: Shared, metrics: Arc<Registry>) -> Router {
    let mut r = Router::new();
    r = both(r, "/", get(server_info));
    r = both(r, "/health", get(health));
    r = both(r, "/metrics", get(move || metrics_text(metrics.clone())));
    r = both(
        r,
        "/connectors",
        get(list_connectors).post(create_connector),
    );
    r = both(
        r,
        "/connectors/{name}",
        get(connector_info).delete(delete_connector),
    );
    r = both(
        r,
        "/connectors/{name}/config",
        get(connector_config)
            .put(put_connector_config)
            .patch(patch_connector_config),
    );
    r = both(r, "/connectors/{name}/status", get(connector_status));
    r = both(r, "/connectors/{name}/tasks", get(task_configs));
    r = both(
        r,
        "/connectors/{name}/tasks/{task}/status",
        get(task_status),
    );
    r = both(
        r,
        "/connectors/{name}/tasks/{task}/restart",
        axum::routing::post(restart_task),
    );
    r = both(r, "/connectors/{name}/topics", get(active_topics));
    r = both(
        r,
        "/connectors/{name}/topics/reset",
        put(reset_active_topics),
    );
    r = both(r, "/connectors/{name}/pause", put(pause_connector));
    r = both(r, "/connectors/{name}/resume", put(resume_connector));
    r = both(r, "/connectors/{name}/stop", put(stop_connector));
    r = both(
        r,
        "/connectors/{name}/restart",
        axum::routing::post(restart_connector),
    );
    r = both(
        r,
        "/connectors/{name}/offsets",
        get(offsets).patch(alter_offsets).delete(reset_offsets),
    );
    r = both(r, "/connector-plugins", get(list_plugins));
    r = both(r, "/connector-plugins/{plugin}/config", get(plugin_config));
    r = both(
        r,
        "/connector-plugins/{plugin}/config/validate",
        put(validate_config),
    );
    r = both(r, "/admin/loggers", get(list_loggers));
    r = both(
        r,
        "/admin/loggers/{logger}",
        get(get_logger).put(set_logger),
    );
    r.fallback(|| async { RestError::not_found("HTTP 404 Not Found").into_response() })
        .method_not_allowed_fallback(|| async {
            RestError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
            .into_response()
        })
        .with_state(backend)
}

/// Runs a backend call under Java's request timeout.
async fn timed<T>(f: impl Future<Output = Result<T, RestError>>) -> Result<T, RestError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(RestError::internal("Request timed out")))
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, RestError> {
    serde_json::from_slice(body)
        .map_err(|e| RestError::bad_request(format!("Invalid request body: {e}")))
}

/// A `Map<String, String>` body as Jackson reads one: numbers and booleans
/// become strings; `null`s are listed by key.
fn string_map(body: &Bytes) -> Result<(Props, Vec<String>), RestError> {
    let map: Map<String, Json_> = parse_body(body)?;
    let mut props = Props::new();
    let mut nulls = Vec::new();
    for (k, v) in map {
        match v {
            Json_::String(s) => {
                props.insert(k, s);
            }
            Json_::Number(_) | Json_::Bool(_) => {
                props.insert(k, v.to_string());
            }
            Json_::Null => nulls.push(k),
            _ => {
                return Err(RestError::bad_request(format!(
                    "Invalid request body: the value of {k} must be a string"
                )))
            }
        }
    }
    Ok((props, nulls))
}

/// Java's validation error for `null` config values.
fn null_values(nulls: &[String]) -> Result<(), RestError> {
    if nulls.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        nulls.len()
    );
    for _ in nulls {
        message.push_str("\nNull value can not be supplied as the configuration value.");
    }
    message.push_str(
        "\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
    );
    Err(RestError::bad_request(message))
}

/// Java's `checkAndPutConnectorConfigName`.
fn check_name(name: &str, config: &mut Props) -> Result<(), RestError> {
    match config.get("name") {
        Some(included) if included != name => Err(RestError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert("name".into(), name.to_owned());
            Ok(())
        }
    }
}

fn task_id(raw: &str) -> Result<u32, RestError> {
    raw.parse()
        .map_err(|_| RestError::not_found("HTTP 404 Not Found"))
}

fn location(name: &str) -> [(header::HeaderName, String); 1] {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    [(header::LOCATION, format!("/connectors/{encoded}"))]
}

async fn server_info(State(b): State<Shared>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: super::server_version(),
        commit: option_env!("KCONNECT_GIT_COMMIT")
            .unwrap_or("unknown")
            .to_owned(),
        kafka_cluster_id: b.kafka_cluster_id().await,
    })
}

async fn health(State(b): State<Shared>) -> Response {
    let health = tokio::time::timeout(std::time::Duration::from_secs(10), b.health())
        .await
        .unwrap_or_else(|_| {
            Health::Unhealthy("The worker did not answer within 10 seconds.".into())
        });
    match health {
        Health::Healthy => (StatusCode::OK, Json(WorkerStatus::healthy())),
        Health::Starting(d) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(WorkerStatus::starting(d.as_deref())),
        ),
        Health::Unhealthy(d) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(WorkerStatus::unhealthy(Some(&d))),
        ),
    }
    .into_response()
}

async fn metrics_text(registry: Arc<Registry>) -> Response {
    let text = crate::metrics::render(&registry);
    let content_type = if text.trim_end().ends_with("# EOF") {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// A config as the API shows it: a secret written literally (a password,
/// a JAAS line, a key — not a `${provider:…}` variable) is `[hidden]`.
/// Java shows them; kconnect keeps them out of every response.
fn shown(config: Props) -> Props {
    config
        .into_iter()
        .map(|(k, v)| {
            if is_literal_secret(&k, &v) {
                (k, HIDDEN.to_owned())
            } else if let Some(url) = crate::connect::config::url_secrets_hidden(&v) {
                (k, url)
            } else {
                (k, v)
            }
        })
        .collect()
}

fn shown_info(mut info: ConnectorInfo) -> ConnectorInfo {
    info.config = shown(info.config);
    info
}

/// A config sent back as it was shown: `[hidden]` under a secret key
/// stands for the value the connector has now (so GET, edit, PUT keeps it).
async fn restore_hidden(b: &Shared, name: &str, config: &mut Props) -> Result<(), RestError> {
    let hidden: Vec<String> = config
        .iter()
        .filter(|(k, v)| v.as_str() == HIDDEN && is_secret_name(k))
        .map(|(k, _)| k.clone())
        .collect();
    let in_urls: Vec<String> = config
        .iter()
        .filter(|(_, v)| v.contains(&format!("={HIDDEN}")))
        .map(|(k, _)| k.clone())
        .collect();
    if hidden.is_empty() && in_urls.is_empty() {
        return Ok(());
    }
    let current = b.connector_config(name).await.unwrap_or_default();
    for key in in_urls {
        let restored = current
            .get(&key)
            .and_then(|now| crate::connect::config::url_secrets_restored(&config[&key], now));
        if let Some(url) = restored {
            config.insert(key, url);
        }
    }
    for key in hidden {
        let value = current.get(&key).ok_or_else(|| {
            RestError::bad_request(format!(
                "{key}: {HIDDEN} stands for the value connector {name} has, and it has none"
            ))
        })?;
        config.insert(key, value.clone());
    }
    Ok(())
}

async fn list_connectors(State(b): State<Shared>, Query(q): Params) -> Response {
    let names = b.connectors().await;
    if param(&q, "expand").is_none() {
        return Json(names).into_response();
    }
    let expansions: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out: BTreeMap<String, Map<String, Json_>> = BTreeMap::new();
    'connectors: for name in names {
        let mut entry = Map::new();
        for e in &expansions {
            let value = match *e {
                "status" => match b.connector_status(&name).await {
                    Ok(s) => Ok(Ok(status_json(&b, &name, &s).await)),
                    Err(e) => Err(e),
                },
                "info" => b
                    .connector_info(&name)
                    .await
                    .map(|i| serde_json::to_value(shown_info(i))),
                other => {
                    tracing::info!(expansion = other, "Ignoring unknown expansion type");
                    continue;
                }
            };
            match value {
                Ok(Ok(v)) => {
                    entry.insert((*e).to_owned(), v);
                }
                // Removed while we looked: left out, as Java does.
                _ => continue 'connectors,
            }
        }
        out.insert(name, entry);
    }
    Json(out).into_response()
}

async fn create_connector(State(b): State<Shared>, body: Bytes) -> Result<Response, RestError> {
    let request: CreateConnectorRequest = parse_body(&body)?;
    let name = request.name.unwrap_or_default().trim().to_owned();
    let raw = request
        .config
        .ok_or_else(|| RestError::bad_request("Invalid request body: no config"))?;
    let nulls: Vec<String> = raw
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let mut config: Props = raw.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    check_name(&name, &mut config)?;
    null_values(&nulls)?;
    let created =
        timed(b.put_connector_config(&name, config, false, request.initial_state)).await?;
    let info = shown_info(created.result);
    Ok((StatusCode::CREATED, location(&name), Json(info)).into_response())
}

async fn connector_info(State(b): State<Shared>, Path(name): Path<String>) -> Response {
    match timed(b.connector_info(&name)).await {
        Ok(i) => Json(shown_info(i)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn connector_config(State(b): State<Shared>, Path(name): Path<String>) -> Response {
    match timed(b.connector_config(&name)).await {
        Ok(c) => Json(shown(c)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn put_connector_config(
    State(b): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, RestError> {
    let (mut config, nulls) = string_map(&body)?;
    check_name(&name, &mut config)?;
    null_values(&nulls)?;
    restore_hidden(&b, &name, &mut config).await?;
    let created = timed(b.put_connector_config(&name, config, true, None)).await?;
    let info = shown_info(created.result);
    Ok(if created.created {
        (StatusCode::CREATED, location(&name), Json(info)).into_response()
    } else {
        Json(info).into_response()
    })
}

async fn patch_connector_config(
    State(b): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, RestError> {
    let (mut set, nulls) = string_map(&body)?;
    restore_hidden(&b, &name, &mut set).await?;
    let patch: BTreeMap<String, Option<String>> = set
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .chain(nulls.into_iter().map(|k| (k, None)))
        .collect();
    let info = timed(b.patch_connector_config(&name, patch)).await?;
    Ok(Json(shown_info(info)).into_response())
}

async fn connector_status(State(b): State<Shared>, Path(name): Path<String>) -> Response {
    match timed(b.connector_status(&name)).await {
        Ok(s) => Json(status_json(&b, &name, &s).await).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Java's status shape; on a worker with exactly-once source support, a
/// source connector's also says `"exactly_once": true` (kconnect's
/// addition; Java's shape is unchanged everywhere else).
async fn status_json(
    b: &Shared,
    name: &str,
    status: &super::entities::ConnectorStateInfo,
) -> Json_ {
    let mut json = status.to_json(b.plugin_version(name).await.as_deref());
    let source = status.kind == super::entities::ConnectorType::Source;
    if source && crate::engine::worker_config::exactly_once_enabled(b.worker_props()) {
        if let Some(o) = json.as_object_mut() {
            o.insert("exactly_once".into(), Json_::Bool(true));
        }
    }
    json
}

async fn task_configs(State(b): State<Shared>, Path(name): Path<String>) -> Response {
    match timed(b.task_configs(&name)).await {
        Ok(tasks) => Json(
            tasks
                .into_iter()
                .map(|mut t| {
                    t.config = shown(t.config);
                    t
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn task_status(
    State(b): State<Shared>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let task = task_id(&task)?;
    let state = timed(b.task_status(&name, task)).await?;
    let version = b.plugin_version(&name).await;
    Ok(Json(state.to_json(version.as_deref())).into_response())
}

async fn restart_task(
    State(b): State<Shared>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, RestError> {
    let task = task_id(&task)?;
    timed(b.restart_task(&name, task)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn topic_tracking(b: &Shared, reset: bool) -> Result<(), RestError> {
    let enabled = |key: &str| {
        b.worker_props()
            .get(key)
            .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
    };
    if !enabled(super::TOPIC_TRACKING_ENABLE) {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking is disabled.",
        ));
    }
    if reset && !enabled(super::TOPIC_TRACKING_ALLOW_RESET) {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking reset is disabled.",
        ));
    }
    Ok(())
}

async fn active_topics(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, RestError> {
    topic_tracking(&b, false)?;
    let topics = timed(b.active_topics(&name)).await?;
    let body = serde_json::json!({ name: super::entities::ActiveTopicsInfo { topics } });
    Ok(Json(body).into_response())
}

async fn reset_active_topics(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    topic_tracking(&b, true)?;
    timed(b.reset_active_topics(&name)).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn pause_connector(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    timed(b.pause_connector(&name)).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume_connector(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    timed(b.resume_connector(&name)).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop_connector(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    timed(b.stop_connector(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart_connector(
    State(b): State<Shared>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Response, RestError> {
    let include_tasks = java_bool(param(&q, "includeTasks"));
    let only_failed = java_bool(param(&q, "onlyFailed"));
    Ok(
        match timed(b.restart_connector(&name, include_tasks, only_failed)).await? {
            Some(state) => {
                let version = b.plugin_version(&name).await;
                (
                    StatusCode::ACCEPTED,
                    Json(state.to_json(version.as_deref())),
                )
                    .into_response()
            }
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

async fn delete_connector(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    timed(b.delete_connector(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn offsets(State(b): State<Shared>, Path(name): Path<String>) -> Response {
    match timed(b.offsets(&name)).await {
        Ok(o) => Json(o).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn alter_offsets(
    State(b): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, RestError> {
    let request: ConnectorOffsets = parse_body(&body)?;
    if request.offsets.is_empty() {
        return Err(RestError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    Ok(Json(timed(b.alter_offsets(&name, request.offsets)).await?).into_response())
}

async fn reset_offsets(
    State(b): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, RestError> {
    Ok(Json(timed(b.reset_offsets(&name)).await?).into_response())
}

async fn list_plugins(Query(q): Params) -> Response {
    // Java's @DefaultValue("true"): only an explicit false lists everything.
    let connectors_only =
        param(&q, "connectorsOnly").is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    Json(plugins::list(connectors_only)).into_response()
}

async fn plugin_config(Path(plugin): Path<String>) -> Result<Response, RestError> {
    Ok(Json(plugins::config_keys(&plugin)?).into_response())
}

async fn validate_config(
    State(b): State<Shared>,
    Path(plugin): Path<String>,
    body: Bytes,
) -> Result<Response, RestError> {
    let (config, nulls) = string_map(&body)?;
    let exactly_once = crate::engine::worker_config::exactly_once_enabled(b.worker_props());
    let mut infos = tokio::task::spawn_blocking(move || {
        plugins::validate_for_plugin(&plugin, config, exactly_once)
    })
    .await
    .map_err(|e| RestError::internal(format!("validation failed: {e}")))??;
    for key in nulls {
        infos.error_count += 1;
        infos.configs.insert(
            0,
            super::entities::ConfigInfo {
                definition: None,
                value: Some(super::entities::ConfigValueInfo {
                    name: key,
                    value: None,
                    recommended_values: Vec::new(),
                    errors: vec![
                        "Null value can not be supplied as the configuration value.".into()
                    ],
                    visible: true,
                }),
            },
        );
    }
    Ok(Json(infos).into_response())
}

async fn list_loggers() -> Response {
    Json(logging::all()).into_response()
}

async fn get_logger(Path(logger): Path<String>) -> Response {
    Json(logging::level(&logger)).into_response()
}

async fn set_logger(
    Path(logger): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Result<Response, RestError> {
    let (levels, _) = string_map(&body)?;
    let changed = logging::set(&logger, levels.get("level").map(String::as_str))?;
    let scope = param(&q, "scope").unwrap_or("worker");
    if scope.eq_ignore_ascii_case("cluster") {
        // One worker is all this endpoint reaches: standalone is the whole
        // cluster, and a distributed worker changes only its own levels.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(changed).into_response())
}
