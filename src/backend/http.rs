//! The http backend: a TTS server that answers a POST with a WAV.
//!
//! Two request styles are spoken:
//! - `piper`: piper's own server (`python3 -m piper.http_server -m MODEL`), `POST /synthesize`
//!   with `{"text": ...}`;
//! - `openai`: OpenAI-compatible speech servers, `POST /v1/audio/speech` with
//!   `{"model", "input", "voice", "response_format": "wav"}`, which many local engines expose.
//!
//! Extra JSON body fields and headers come from the voice profile; an API key is read from the
//! environment variable the profile names, never from the profile itself. Requests run in
//! parallel, one per worker. The reply must be 2xx and a WAV that parses with at least one
//! frame; otherwise the error carries the status and the body.
//!
//! The server may also be started for the run ("managed"): `aloud` picks a free loopback port,
//! starts the server's command through `process::Service`, waits until it accepts connections
//! (failing early, with its stderr, if it exits), and stops it when the backend is dropped — at
//! the end of the run, on error, and on Ctrl-C (the service's process group is killed).

use super::command::CommandTemplate;
use super::{EngineInfo, ModelSource, Request, SynthError, Synthesizer};
use crate::audio::Audio;
use crate::audio::read::read_wav_bytes;
use crate::process::{self, Service};
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Placeholders a managed server's command may use.
pub const SERVER_PLACEHOLDERS: &[&str] = &["port", "model"];

/// The request style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpApi {
    /// piper's `POST /synthesize` with `{"text"}`.
    Piper,
    /// `POST /v1/audio/speech` with `{"model", "input", "voice", "response_format"}`.
    #[serde(rename = "openai")]
    OpenAi,
}

/// Settings for [`Http`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// The request style.
    pub api: HttpApi,
    /// The URL to POST to; `{port}` is replaced by a managed server's port.
    pub endpoint: String,
    /// The voice to ask for (`voice` in the body), if any.
    pub voice: Option<String>,
    /// The model to ask for (`model` in an OpenAI-style body).
    pub model: Option<String>,
    /// Extra JSON fields merged into every request body.
    pub body: serde_json::Map<String, serde_json::Value>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The environment variable holding an API key, sent as `Authorization: Bearer KEY`.
    pub api_key_env: Option<String>,
    /// Deadline for one request.
    pub timeout: Duration,
    /// A server to start for the run.
    pub server: Option<ServerSettings>,
    /// A command that prints the engine's version.
    pub version_command: Option<CommandTemplate>,
}

/// A server `aloud` starts and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// How to start it; `{port}` and `{model}` are filled in.
    pub command: CommandTemplate,
    /// The voice model for `{model}`.
    pub model: ModelSource,
    /// How long it may take to start accepting connections.
    pub startup_timeout: Duration,
}

/// Speaks to a TTS server over HTTP.
pub struct Http {
    name: String,
    settings: HttpSettings,
    endpoint: String,
    agent: ureq::Agent,
    api_key: Option<String>,
    server: Mutex<Option<Service>>,
    /// The managed server's model path, once resolved.
    model_path: Option<String>,
}

impl Http {
    /// Creates the backend, starting its server first when it is managed.
    pub fn new(settings: HttpSettings) -> Result<Http, SynthError> {
        let name = match settings.api {
            HttpApi::Piper => "piper-http",
            HttpApi::OpenAi => "openai-http",
        }
        .to_string();
        let api_key = match &settings.api_key_env {
            None => None,
            Some(var) => Some(std::env::var(var).map_err(|_| SynthError::Io {
                engine: name.clone(),
                message: format!("the environment variable {var} (the API key) is not set"),
            })?),
        };
        let (endpoint, server, model_path) = match &settings.server {
            None => (settings.endpoint.clone(), None, None),
            Some(server) => {
                let (port, service, model) = start_server(&name, server, settings.timeout)?;
                (
                    settings.endpoint.replace("{port}", &port.to_string()),
                    Some(service),
                    Some(model).filter(|m| !m.is_empty()),
                )
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Http {
            name,
            settings,
            endpoint,
            agent,
            api_key,
            server: Mutex::new(server),
            model_path,
        })
    }

    fn body(&self, text: &str) -> serde_json::Value {
        let s = &self.settings;
        let mut body = serde_json::Map::new();
        match s.api {
            HttpApi::Piper => {
                body.insert("text".into(), text.into());
                if let Some(v) = &s.voice {
                    body.insert("voice".into(), v.clone().into());
                }
            }
            HttpApi::OpenAi => {
                body.insert(
                    "model".into(),
                    s.model.clone().unwrap_or_else(|| "tts-1".into()).into(),
                );
                body.insert("input".into(), text.into());
                body.insert(
                    "voice".into(),
                    s.voice.clone().unwrap_or_else(|| "alloy".into()).into(),
                );
                body.insert("response_format".into(), "wav".into());
            }
        }
        for (k, v) in &s.body {
            body.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(body)
    }

    /// A request that ran past the deadline.
    fn timed_out(&self) -> SynthError {
        SynthError::TimedOut {
            engine: self.name.clone(),
            after: self.settings.timeout,
            stderr: String::new(),
        }
    }

    fn fail(&self, status: String, stderr: String) -> SynthError {
        SynthError::Failed {
            engine: self.name.clone(),
            status,
            stderr,
        }
    }

    /// The managed server's stderr so far is not available without stopping it; if it died,
    /// say so with what it printed.
    fn server_died(&self) -> Option<SynthError> {
        let mut guard = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let exited = guard.as_mut()?.exited()?;
        let stderr = guard.take().map(Service::stop).unwrap_or_default();
        Some(self.fail(
            format!(
                "the server it started exited ({})",
                process::describe_status(&exited)
            ),
            stderr,
        ))
    }
}

impl Synthesizer for Http {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> Result<EngineInfo, SynthError> {
        let probe = self.synthesize(&Request { text: "test" })?;
        let s = &self.settings;
        let mut settings = vec![("endpoint".to_string(), self.settings.endpoint.clone())];
        if let Some(v) = &s.voice {
            settings.push(("voice".into(), v.clone()));
        }
        if let Some(m) = &s.model {
            settings.push(("model".into(), m.clone()));
        }
        if let Some(server) = &s.server {
            settings.push(("server".into(), server.command.source.clone()));
        }
        if let Some(m) = &self.model_path {
            settings.push(("server_model".into(), m.clone()));
        }
        for (k, v) in &s.body {
            settings.push((format!("body.{k}"), v.to_string()));
        }
        Ok(EngineInfo {
            name: self.name.clone(),
            version: super::engine_version(s.version_command.as_ref(), &self.name, s.timeout)?,
            sample_rate: probe.sample_rate,
            settings,
            language: None,
        })
    }

    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError> {
        if process::cancelled() {
            return Err(SynthError::Cancelled);
        }
        let body = serde_json::to_vec(&self.body(request.text)).expect("a JSON body serializes");
        let mut req = self
            .agent
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("accept", "audio/wav");
        for (k, v) in &self.settings.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(key) = &self.api_key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let started = Instant::now();
        let mut response = match req.send(&body[..]) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => return Err(self.timed_out()),
            Err(e) => {
                if let Some(died) = self.server_died() {
                    return Err(died);
                }
                return Err(SynthError::Io {
                    engine: self.name.clone(),
                    message: format!("POST {}: {e}", self.endpoint),
                });
            }
        };
        let status = response.status();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => self.timed_out(),
                e => SynthError::Io {
                    engine: self.name.clone(),
                    message: format!("reading the reply from {}: {e}", self.endpoint),
                },
            })?;
        if started.elapsed() > self.settings.timeout {
            return Err(self.timed_out());
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])
                .trim()
                .to_string();
            return Err(self.fail(format!("HTTP {status}"), text));
        }
        read_wav_bytes(&bytes).map_err(SynthError::bad_audio(&self.name, String::new()))
    }
}

/// Starts a managed server on a free loopback port and waits until it accepts connections.
fn start_server(
    name: &str,
    server: &ServerSettings,
    timeout: Duration,
) -> Result<(u16, Service, String), SynthError> {
    let io = |message: String| SynthError::Io {
        engine: name.to_string(),
        message,
    };
    let model = server.model.resolve(name, timeout)?;
    // Ask the kernel for a free port; the small race until the server binds it is acceptable
    // for loopback.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| io(format!("no free loopback port: {e}")))?
        .port();
    let args = server.command.args(&|n| match n {
        "port" => port.to_string().into(),
        "model" => model.clone().into(),
        _ => OsString::new(),
    });
    let mut service = Service::spawn(server.command.program().as_ref(), &args).map_err(|e| {
        SynthError::from_run(
            name,
            &format!(
                "install the server, or fix its command ({})",
                server.command.source
            ),
            e,
        )
    })?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + server.startup_timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok((port, service, model));
        }
        if let Some(status) = service.exited() {
            return Err(SynthError::Failed {
                engine: name.to_string(),
                status: format!(
                    "its server exited while starting ({})",
                    process::describe_status(&status)
                ),
                stderr: service.stop(),
            });
        }
        if process::cancelled() {
            return Err(SynthError::Cancelled);
        }
        if Instant::now() > deadline {
            let stderr = service.stop();
            return Err(SynthError::TimedOut {
                engine: name.to_string(),
                after: server.startup_timeout,
                stderr: format!("the server did not accept connections on port {port}: {stderr}"),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
