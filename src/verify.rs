//! `aloud verify`: re-read an article's outputs and check them against its manifest.
//!
//! For every manifest (a `NAME.json`, or every one under a folder) it checks:
//! - the manifest itself: every paragraph present, in order, inside its chapter and inside the
//!   audio; chapters consecutive and covering every paragraph; every unit within its paragraph
//!   and recorded as having passed its checks;
//! - the WAV: its structure (sizes, pad bytes, chunk order; [`crate::audio::inspect`]), format,
//!   frame count, one cue per chapter at the manifest's frame with its title and length, and
//!   each chapter's audio against its BLAKE3 hash (`audio_blake3`);
//! - the WebVTT chapters: one cue per chapter, at the same millisecond, with the same title;
//! - the player page: one chapter link per chapter at the same start, one anchor per paragraph.
//!
//! Every mismatch is reported precisely (file, chapter or paragraph, expected and found); the
//! exit status is 1 when anything is wrong.

use crate::audio::digest::hash_stretches;
use crate::audio::frames_to_ms;
use crate::audio::inspect::{WavLayout, inspect};
use crate::chapters::vtt_timestamp;
use crate::exit_codes::ExitCode;
use crate::manifest::{self, Manifest};
use crate::report;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What `verify` found for one manifest.
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    /// The manifest.
    pub manifest: PathBuf,
    /// Every problem found; empty when all is well.
    pub problems: Vec<String>,
}

/// `aloud verify TARGET...` (manifests or folders). Returns the exit code.
pub fn run(targets: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    // Each file is read once, and verified as soon as it is found to be a manifest.
    let mut verdicts = Vec::new();
    for t in targets {
        if t.is_dir() {
            let mut warnings = Vec::new();
            for rel in crate::index::json_files(t, &mut warnings) {
                let path = t.join(rel);
                let bytes = std::fs::read(&path);
                let damaged = || {
                    bytes
                        .as_deref()
                        .is_ok_and(|b| serde_json::from_slice::<serde::de::IgnoredAny>(b).is_err())
                        || bytes.is_err()
                };
                // A manifest too damaged to say what it is (truncated, emptied, unreadable)
                // still counts when the outputs it describes lie beside it.
                if bytes.as_deref().is_ok_and(is_manifest)
                    || (has_outputs_beside(&path) && damaged())
                {
                    verdicts.push(verify_read(&path, bytes));
                }
            }
            for w in warnings {
                report::warning(w);
            }
        } else {
            verdicts.push(verify(t));
        }
    }
    if verdicts.is_empty() {
        report::error("no aloud manifests (NAME.json) found to verify");
        return Ok(ExitCode::Failure);
    }
    let failed = verdicts.iter().filter(|v| !v.problems.is_empty()).count();
    if json {
        use std::io::Write;
        let text = serde_json::to_string_pretty(&verdicts)?;
        if let Err(e) = writeln!(std::io::stdout().lock(), "{text}")
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(e.into());
        }
    } else {
        for v in &verdicts {
            if v.problems.is_empty() {
                report::line(format_args!("ok    {}", v.manifest.display()));
            } else {
                report::line(format_args!("FAIL  {}", v.manifest.display()));
                for p in &v.problems {
                    report::line(format_args!("      - {p}"));
                }
            }
        }
        report::line(format_args!(
            "{} of {} articles verified{}",
            verdicts.len() - failed,
            verdicts.len(),
            if failed > 0 {
                format!("; {failed} with problems")
            } else {
                String::new()
            }
        ));
    }
    Ok(if failed > 0 {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

/// Whether `NAME.json` has a `NAME.wav` or `NAME.html` beside it, as a manifest does.
fn has_outputs_beside(manifest: &Path) -> bool {
    ["wav", "html"]
        .iter()
        .any(|ext| manifest.with_extension(ext).is_file())
}

/// Whether `bytes` are JSON with aloud's manifest `format` (other fields are skipped, not built).
fn is_manifest(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        format: serde_json::Value,
    }
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.format == manifest::FORMAT)
}

/// Verifies one manifest and the files it lists.
pub fn verify(path: &Path) -> Verdict {
    verify_read(path, std::fs::read(path))
}

/// [`verify`], given what reading the manifest gave.
fn verify_read(path: &Path, read: std::io::Result<Vec<u8>>) -> Verdict {
    let mut problems = Vec::new();
    match read
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()))
    {
        Err(e) => problems.push(format!("the manifest cannot be read: {e}")),
        Ok(m) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            check_manifest(&m, &mut problems);
            // Every other file listed is there (the WAV, chapters and page are compared below).
            let compared = [&m.files.wav, &m.files.chapters_vtt, &m.files.page];
            let others = m
                .files
                .all()
                .into_iter()
                .filter(|n| !compared.iter().any(|c| c.as_deref() == Some(*n)));
            for name in others {
                match std::fs::metadata(dir.join(name)) {
                    Ok(meta) if meta.len() > 0 => {}
                    Ok(_) => problems.push(format!("{name} is empty")),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
            // Without a WAV (`--formats` without wav) the audio hashes cannot be checked.
            if let Some(wav) = &m.files.wav {
                check_wav(&m, &dir.join(wav), &mut problems);
            }
            if let Some(vtt) = &m.files.chapters_vtt {
                check_vtt(&m, &dir.join(vtt), &mut problems);
            }
            if let Some(page) = &m.files.page {
                check_page(&m, &dir.join(page), &mut problems);
            }
        }
    }
    Verdict {
        manifest: path.to_path_buf(),
        problems,
    }
}

/// The manifest's own consistency: nothing dropped, nothing overlapping.
fn check_manifest(m: &Manifest, problems: &mut Vec<String>) {
    if m.chapters.is_empty() || m.paragraphs.is_empty() {
        problems.push("the manifest lists no chapters or no paragraphs".into());
        return;
    }
    let mut prev_end = 0;
    for (i, p) in m.paragraphs.iter().enumerate() {
        let n = i + 1;
        if p.index != i {
            problems.push(format!(
                "paragraph {n} is numbered {} (a paragraph is missing or out of order)",
                p.index + 1
            ));
        }
        if p.start_frame < prev_end || p.end_frame < p.start_frame || p.end_frame > m.total_frames {
            problems.push(format!(
                "paragraph {n} spans frames {}..{}, which overlaps the one before or leaves the audio ({} frames)",
                p.start_frame, p.end_frame, m.total_frames
            ));
        }
        if p.units.is_empty() {
            problems.push(format!("paragraph {n} has no spoken units"));
        }
        for u in &p.units {
            if u.start_frame < p.start_frame || u.end_frame > p.end_frame {
                problems.push(format!(
                    "paragraph {n}: unit {} lies outside the paragraph",
                    u.index + 1
                ));
            }
            if let Some(problem) = u.check.as_ref().and_then(|c| c.problem.as_ref()) {
                problems.push(format!(
                    "paragraph {n}: unit {} failed its check: {problem}",
                    u.index + 1
                ));
            }
        }
        let chapter = m.chapters.get(p.chapter);
        if chapter.is_none_or(|c| i < c.paragraphs[0] || i > c.paragraphs[1]) {
            problems.push(format!(
                "paragraph {n} is not inside its chapter {}",
                p.chapter + 1
            ));
        }
        prev_end = p.end_frame;
    }
    let mut expected_start = 0;
    for (k, c) in m.chapters.iter().enumerate() {
        if c.start_frame != expected_start {
            problems.push(format!(
                "chapter {} starts at frame {}, but the chapter before ends at {expected_start}",
                k + 1,
                c.start_frame
            ));
        }
        let first = m.paragraphs.get(c.paragraphs[0]);
        if first.is_none_or(|p| p.start_frame != c.start_frame) {
            problems.push(format!(
                "chapter {} does not start where its first paragraph does",
                k + 1
            ));
        }
        expected_start = c.end_frame;
    }
    if expected_start != m.total_frames {
        problems.push(format!(
            "the chapters end at frame {expected_start}, the audio at {}",
            m.total_frames
        ));
    }
}

fn check_wav(m: &Manifest, path: &Path, problems: &mut Vec<String>) {
    let name = path.display();
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return problems.push(format!("{name}: {e}")),
    };
    let layout: WavLayout = match inspect(&mut file) {
        Ok(l) => l,
        Err(e) => return problems.push(format!("{name}: {e}")),
    };
    if (layout.format_tag, layout.channels, layout.bits_per_sample) != (1, 1, 16)
        || layout.sample_rate != m.sample_rate
    {
        problems.push(format!(
            "{name}: {} channel(s), {} bits at {} Hz, the manifest says 1 channel, 16 bits at {} Hz",
            layout.channels, layout.bits_per_sample, layout.sample_rate, m.sample_rate
        ));
    }
    if layout.frames != m.total_frames {
        problems.push(format!(
            "{name}: {} frames, the manifest says {}",
            layout.frames, m.total_frames
        ));
    }
    if layout.cues.len() != m.chapters.len() {
        problems.push(format!(
            "{name}: {} chapter markers, the manifest lists {} chapters",
            layout.cues.len(),
            m.chapters.len()
        ));
    }
    for (k, (cue, c)) in layout.cues.iter().zip(&m.chapters).enumerate() {
        let n = k + 1;
        if u64::from(cue.sample_offset) != c.start_frame || u64::from(cue.position) != c.start_frame
        {
            problems.push(format!(
                "{name}: chapter {n} marker at frame {}, the manifest says {}",
                cue.sample_offset, c.start_frame
            ));
        }
        if cue.title.as_deref() != Some(c.title.as_str()) {
            problems.push(format!(
                "{name}: chapter {n} is titled {:?}, the manifest says {:?}",
                cue.title, c.title
            ));
        }
        if cue.length.map(u64::from) != Some(c.end_frame - c.start_frame) {
            problems.push(format!(
                "{name}: chapter {n} region length {:?}, the manifest says {}",
                cue.length,
                c.end_frame - c.start_frame
            ));
        }
    }
    // Each chapter's audio against its hash.
    if file.seek(SeekFrom::Start(layout.data_offset)).is_err() {
        return problems.push(format!("{name}: cannot read the audio"));
    }
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let lengths = m
        .chapters
        .iter()
        .map(|c| c.end_frame.saturating_sub(c.start_frame));
    let (hashes, short) = match hash_stretches(reader, lengths) {
        Ok(hashes) => (hashes, false),
        Err((hashes, _)) => (hashes, true),
    };
    for (k, (hash, c)) in hashes.iter().zip(&m.chapters).enumerate() {
        if !c.audio_blake3.is_empty() && *hash != c.audio_blake3 {
            problems.push(format!("{name}: the audio of chapter {} has changed (its hash differs from the manifest's)", k + 1));
        }
    }
    if short {
        problems.push(format!(
            "{name}: the audio ends inside chapter {}",
            hashes.len() + 1
        ));
    }
}

fn check_vtt(m: &Manifest, path: &Path, problems: &mut Vec<String>) {
    let name = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return problems.push(format!("{name}: {e}")),
    };
    if !text.starts_with("WEBVTT") {
        problems.push(format!("{name}: does not start with WEBVTT"));
    }
    let lines: Vec<&str> = text.lines().collect();
    let cues: Vec<(&str, &str, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (a, b) = l.split_once(" --> ")?;
            Some((a, b, lines.get(i + 1).copied().unwrap_or("")))
        })
        .collect();
    if cues.len() != m.chapters.len() {
        problems.push(format!(
            "{name}: {} cues, the manifest lists {} chapters",
            cues.len(),
            m.chapters.len()
        ));
    }
    for (k, ((start, _end, title), c)) in cues.iter().zip(&m.chapters).enumerate() {
        let want = vtt_timestamp(frames_to_ms(c.start_frame, m.sample_rate));
        if *start != want {
            problems.push(format!(
                "{name}: chapter {} starts at {start}, the WAV at {want}",
                k + 1
            ));
        }
        let unescaped = title
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        if unescaped != c.title {
            problems.push(format!(
                "{name}: chapter {} is titled {unescaped:?}, the manifest says {:?}",
                k + 1,
                c.title
            ));
        }
    }
}

fn check_page(m: &Manifest, path: &Path, problems: &mut Vec<String>) {
    let name = path.display();
    let page = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return problems.push(format!("{name}: {e}")),
    };
    // One pass over the page: the chapter links and the paragraph anchors it holds.
    let mut links = std::collections::HashSet::new();
    for part in page.split("data-start=\"").skip(1) {
        if let Some((start, rest)) = part.split_once('"')
            && let Some(k) = rest
                .strip_prefix(" data-chapter=\"")
                .and_then(|r| r.split_once('"'))
        {
            links.insert((start.to_string(), k.0.to_string()));
        }
    }
    let anchors: std::collections::HashSet<&str> = page
        .split(" id=\"p")
        .skip(1)
        .filter_map(|part| part.split_once('"').map(|(n, _)| n))
        .collect();
    for (k, c) in m.chapters.iter().enumerate() {
        let ms = frames_to_ms(c.start_frame, m.sample_rate);
        let start = format!("{}.{:03}", ms / 1000, ms % 1000);
        if !links.contains(&(start.clone(), k.to_string())) {
            problems.push(format!("{name}: no link to chapter {} at {start} s", k + 1));
        }
    }
    for p in &m.paragraphs {
        if !anchors.contains((p.index + 1).to_string().as_str()) {
            problems.push(format!(
                "{name}: paragraph {} is missing from the transcript",
                p.index + 1
            ));
        }
    }
}
