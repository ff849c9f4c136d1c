//! A tiny static file server for the browser tests, with HTTP `Range` support.
//!
//! Browsers fetch audio with `Range: bytes=START-[END]` and need `206 Partial Content` to know
//! the length and to seek (Python's `http.server` ignores ranges). This serves a folder on
//! 127.0.0.1 at a free port, one thread per connection, `Connection: close`. It counts the
//! partial responses it sent so a test can tell that ranges were really used. It can also
//! ignore ranges, like Python's `http.server`. It stops when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A running server.
pub struct StaticServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Stats {
    partial: AtomicUsize,
    requests: AtomicUsize,
}

impl StaticServer {
    /// Serves `root`, honouring `Range` requests.
    pub fn start(root: &Path) -> StaticServer {
        Self::serve_folder(root, true)
    }

    /// Serves `root`, answering every request with the whole file, as Python's `http.server`
    /// does.
    pub fn start_ignoring_ranges(root: &Path) -> StaticServer {
        Self::serve_folder(root, false)
    }

    fn serve_folder(root: &Path, ranges: bool) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let thread = {
            let (stats, stop) = (Arc::clone(&stats), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, stats) = (root.clone(), Arc::clone(&stats));
                    std::thread::spawn(move || {
                        // A browser that has read enough closes early; that is not an error.
                        let _ = serve(stream, &root, &stats, ranges);
                    });
                }
            })
        };
        StaticServer {
            base,
            stats,
            stop,
            thread: Some(thread),
        }
    }

    /// `206 Partial Content` responses sent so far.
    pub fn partial_responses(&self) -> usize {
        self.stats.partial.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path, stats: &Stats, ranges: bool) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
            && ranges
        {
            range = Some(value.trim().to_string());
        }
    }
    stats.requests.fetch_add(1, Ordering::SeqCst);
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut out = stream;
    let Some(path) = resolve(root, target) else {
        return respond(&mut out, "404 Not Found", &[], b"not found\n", method);
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) if path.is_file() => f,
        _ => return respond(&mut out, "404 Not Found", &[], b"not found\n", method),
    };
    let len = file.metadata()?.len();
    let content_type = content_type(&path);
    let (status, start, end) = match range.as_deref().map(|r| parse_range(r, len)) {
        None => ("200 OK", 0, len),
        Some(Some((a, b))) => ("206 Partial Content", a, b),
        Some(None) => {
            let headers = [("Content-Range", format!("bytes */{len}"))];
            return respond(&mut out, "416 Range Not Satisfiable", &headers, b"", method);
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n",
        end - start
    );
    if ranges {
        head.push_str("Accept-Ranges: bytes\r\n");
    }
    if status.starts_with("206") {
        stats.partial.fetch_add(1, Ordering::SeqCst);
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{len}\r\n",
            end - 1
        ));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        file.seek(SeekFrom::Start(start))?;
        std::io::copy(&mut file.take(end - start), &mut out)?;
    }
    out.flush()
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    method: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(body)?;
    }
    out.flush()
}

/// `bytes=A-B`, `bytes=A-` or `bytes=-N` as a half-open byte range; `None` if unsatisfiable
/// or not understood (only single ranges are supported).
fn parse_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?.trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    (start < end && start < len).then_some((start, end))
}

/// The file for a request target under `root`: percent-decoded, query and fragment dropped,
/// and never outside `root`.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for c in Path::new(&decoded).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "opus" => "audio/ogg",
        "m4b" => "audio/mp4",
        "vtt" => "text/vtt; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

#[test]
fn ranges_are_parsed_as_browsers_send_them() {
    assert_eq!(parse_range("bytes=0-", 100), Some((0, 100)));
    assert_eq!(parse_range("bytes=10-19", 100), Some((10, 20)));
    assert_eq!(parse_range("bytes=90-200", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=100-", 100), None);
    assert_eq!(parse_range("items=0-1", 100), None);
}
