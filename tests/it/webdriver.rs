//! A minimal W3C WebDriver client for headless Chromium through Debian's `chromedriver`.
//!
//! [`Browser::start`] starts chromedriver on a free local port and opens a session on a fresh
//! profile; dropping the [`Browser`] ends the session (which quits Chromium) and kills
//! chromedriver, even when the test panics. Only the handful of commands the page tests need
//! are here. All traffic is to 127.0.0.1.

#![allow(dead_code)]

use crate::support::which;
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium whose window is `width` × `height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = which("chromium").expect("chromium is on PATH");
        let profile = tempfile::Builder::new()
            .prefix("aloud-chromium-")
            .tempdir()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        // A free port, then chromedriver on it; retried in case another process took it first.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut driver = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let base = format!("http://127.0.0.1:{port}");
            if !wait_ready(&agent, &base, &mut driver) {
                let _ = driver.kill();
                let _ = driver.wait();
                continue;
            }
            let mut browser = Browser {
                agent,
                base,
                driver,
                _profile: profile,
            };
            let args = [
                "--headless".to_string(),
                "--no-sandbox".into(),
                "--disable-gpu".into(),
                "--disable-background-networking".into(),
                "--disable-component-update".into(),
                "--no-first-run".into(),
                "--disable-sync".into(),
                "--disable-quic".into(),
                "--hide-scrollbars".into(),
                "--autoplay-policy=no-user-gesture-required".into(),
                format!("--user-data-dir={}", browser._profile.path().display()),
                format!("--window-size={width},{height}"),
            ];
            let caps = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}});
            let v = browser.cmd("POST", "/session", Some(caps));
            let id = v["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no session: {v}"));
            browser.base = format!("{}/session/{id}", browser.base);
            return browser;
        }
        panic!("chromedriver did not start");
    }

    /// Sends a command and returns its `value`; panics with WebDriver's message on error.
    fn cmd(&mut self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let v: Value = response.body_mut().read_json().unwrap();
        if !status.is_success() {
            panic!("{method} {path}: HTTP {status}: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// Navigates and waits for the page to load.
    pub fn goto(&mut self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn exec(&mut self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Evaluates a JavaScript expression.
    pub fn eval(&mut self, expression: &str) -> Value {
        self.exec(&format!("return ({expression});"), json!([]))
    }

    /// Polls `expression` until it is truthy and returns its value; panics after `timeout`
    /// with `what` and the expression's last value.
    pub fn wait_for(&mut self, what: &str, expression: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(expression);
            let truthy =
                !matches!(v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}: {expression} = {v}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The first element matching a CSS selector.
    pub fn find(&mut self, css: &str) -> Element {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        Element(v[ELEMENT].as_str().expect("an element reference").into())
    }

    /// Clicks an element as a user would (a trusted event).
    pub fn click(&mut self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/click", el.0), None);
    }

    /// Presses and releases each key in turn (WebDriver key codes: "\u{E004}" is Tab,
    /// "\u{E007}" Enter).
    pub fn press(&mut self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Turns the mouse wheel at (x, y) in the viewport, as a reader scrolling does.
    pub fn wheel(&mut self, x: u32, y: u32, delta_y: i64) {
        let scroll = json!({"type": "scroll", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y});
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "wheel", "id": "wheel", "actions": [scroll]}]})),
        );
    }

    /// A Chrome DevTools Protocol command, through chromedriver.
    pub fn cdp(&mut self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    /// Emulates a screen of this size (a phone when `mobile`), as device tools do.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// Emulates `prefers-color-scheme: dark` (or light).
    pub fn color_scheme(&mut self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Saves a PNG of the viewport.
    pub fn screenshot(&mut self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 text"))
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits Chromium; then chromedriver goes.
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn wait_ready(agent: &ureq::Agent, base: &str, driver: &mut Child) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = driver.try_wait() {
            return false; // it exited: most likely the port was taken
        }
        if let Ok(mut r) = agent.get(format!("{base}/status")).call()
            && let Ok(v) = r.body_mut().read_json::<Value>()
            && v["value"]["ready"] == json!(true)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
