//! A small Connect REST client over ureq, as kcctl or curl use the API:
//! every status is an answer (no error on 4xx/5xx), bodies are JSON.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A response: status, JSON body (`null` when empty, a string when it is
/// not JSON), `Location` header.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Json,
    pub location: Option<String>,
}

pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    /// The API on `127.0.0.1:port`.
    pub fn new(port: u16) -> Api {
        Api::at(format!("http://127.0.0.1:{port}"))
    }

    pub fn at(base: String) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Api { base, agent }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Json>) -> Reply {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Api::call`]; `Err` when nothing answered.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Json>,
    ) -> Result<Reply, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            m => {
                let req = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => panic!("method {other}"),
                };
                match body {
                    Some(b) => req
                        .header("Content-Type", "application/json")
                        .send(b.to_string()),
                    None => req.send_empty(),
                }
            }
        };
        let mut resp = result?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        Ok(Reply {
            status,
            body,
            location,
        })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    /// Polls `GET path` (for up to 90 s, riding over moments nothing
    /// answers) until `check` holds.
    pub fn wait(&self, what: &str, path: &str, check: impl Fn(&Reply) -> bool) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match self.try_call("GET", path, None) {
                Ok(r) if check(&r) => return r,
                Ok(r) => assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; last {path}: {r:?}"
                ),
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; last {path}: {e}"
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The connector state and the task states of a status body.
pub fn states(status: &Json) -> (String, Vec<String>) {
    (
        status["connector"]["state"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        status["tasks"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["state"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    )
}
