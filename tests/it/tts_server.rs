//! A small TTS server for the http backend's tests, on 127.0.0.1 at a free port.
//!
//! It answers piper's `POST /synthesize` (`{"text"}`) and OpenAI's `POST /v1/audio/speech`
//! (`{"model", "input", "voice", "response_format"}`) with a WAV tone whose length follows
//! the text (24 kHz, 30 ms per character). Texts containing a marker word misbehave:
//! `FAIL500` gets a 500 with a body, `HANG` never answers, `GARBAGE` gets 200 with a body that
//! is not a WAV, `EMPTY` gets 200 with no body. It records every request's path, headers and
//! body for assertions, and stops when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

pub struct TtsServer {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl TtsServer {
    pub fn start() -> TtsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = Arc::clone(&seen2);
                        let stop = Arc::clone(&stop2);
                        std::thread::spawn(move || handle(stream, &seen, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TtsServer { base, seen, stop }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TtsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn handle(stream: TcpStream, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    stream.set_nonblocking(false).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim().split_once(':') {
            let (k, v) = (k.trim().to_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let text = body["text"]
        .as_str()
        .or(body["input"].as_str())
        .unwrap_or("")
        .to_string();
    let mut out = stream;
    let reply = |out: &mut TcpStream, status: &str, ctype: &str, bytes: &[u8]| {
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        );
        let _ = out.write_all(bytes);
    };
    if !matches!(path.as_str(), "/synthesize" | "/v1/audio/speech") {
        reply(&mut out, "404 Not Found", "text/plain", b"no such endpoint");
    } else if text.contains("FAIL500") {
        reply(
            &mut out,
            "500 Internal Server Error",
            "application/json",
            br#"{"error":"model exploded"}"#,
        );
    } else if text.contains("HANG") {
        for _ in 0..300 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    } else if text.contains("GARBAGE") {
        reply(&mut out, "200 OK", "audio/wav", b"this is not a wav file");
    } else if text.contains("EMPTY") {
        reply(&mut out, "200 OK", "audio/wav", b"");
    } else {
        reply(&mut out, "200 OK", "audio/wav", &tone(text.chars().count()));
    }
}

fn tone(chars: usize) -> Vec<u8> {
    let rate = 24000u32;
    let frames = (chars.max(1) as u32) * rate * 30 / 1000;
    let mut data = Vec::with_capacity(frames as usize * 2);
    for i in 0..frames {
        let v = ((f64::from(i) * 250.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 7000.0)
            as i16;
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}
