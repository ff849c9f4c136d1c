//! The output folder's index page, `index.html`: every article converted into the folder.
//!
//! It is rebuilt from the manifests on disk, never from one run's memory, so several runs (or
//! shards on different machines) into one folder give one complete index: whichever rebuild
//! comes last sees every manifest. A manifest is any `*.json` under the folder whose `format`
//! is `aloud-manifest`; the walk skips hidden files and folders (our temporary files among
//! them) and does not follow links to folders. A manifest that cannot be read is skipped with
//! a warning naming it. Links go only to files that exist. The page is written atomically.
//!
//! It does not render anything itself: [`crate::html::index_page`] does.

use crate::html::{self, AudioFile, IndexEntry};
use crate::manifest;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The index's file name in the output folder.
pub const INDEX_FILE: &str = "index.html";

/// The index could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write {}: {source}", .path.display())]
pub struct IndexError {
    /// The index file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct IndexReport {
    /// The index written; `None` when no manifest was found (nothing is written then).
    pub written: Option<PathBuf>,
    /// Articles listed.
    pub articles: usize,
    /// Manifests skipped and folders that could not be read, for the user.
    pub warnings: Vec<String>,
}

/// Finds every manifest under `out_dir` and writes `out_dir/index.html` listing them.
pub fn rebuild(out_dir: &Path) -> Result<IndexReport, IndexError> {
    let mut warnings = Vec::new();
    let entries = collect(out_dir, &mut warnings);
    if entries.is_empty() {
        return Ok(IndexReport {
            written: None,
            articles: 0,
            warnings,
        });
    }
    let path = out_dir.join(INDEX_FILE);
    write_atomically(out_dir, &path, html::index_page(&entries).as_bytes()).map_err(|source| {
        IndexError {
            path: path.clone(),
            source,
        }
    })?;
    Ok(IndexReport {
        written: Some(path),
        articles: entries.len(),
        warnings,
    })
}

/// The index entries for every manifest under `out_dir`, sorted by path.
pub fn collect(out_dir: &Path, warnings: &mut Vec<String>) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = json_files(out_dir, warnings)
        .into_iter()
        .filter_map(|rel| entry_for(out_dir, &rel, warnings))
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

/// Every `*.json` under `dir` (hidden files and folders skipped), relative to it, sorted.
pub fn json_files(dir: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(dir, Path::new(""), &mut found, warnings);
    found.sort();
    found
}

fn walk(root: &Path, rel: &Path, found: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    let dir = root.join(rel);
    let mut entries: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            warnings.push(format!(
                "{}: not indexed, cannot list it: {e}",
                dir.display()
            ));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let child = rel.join(&name);
        if file_type.is_dir() {
            walk(root, &child, found, warnings);
        } else if name.as_encoded_bytes().ends_with(b".json") {
            found.push(child);
        }
    }
}

/// An entry for the manifest at `out_dir/rel`; `None` when the file is not an aloud manifest
/// (silently) or cannot be read as one (with a warning).
fn entry_for(out_dir: &Path, rel: &Path, warnings: &mut Vec<String>) -> Option<IndexEntry> {
    let path = out_dir.join(rel);
    let skip = |warnings: &mut Vec<String>, why: String| {
        warnings.push(format!(
            "{}: not in the index, it is not a readable aloud manifest: {why}",
            path.display()
        ));
        None
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return skip(warnings, e.to_string()),
    };
    // Only the fields the index shows are read: a long article's manifest, with its word
    // timings, runs to tens of megabytes, and the index must not hold it all.
    let probe: FormatProbe = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return skip(warnings, e.to_string()),
    };
    if probe.format.as_deref() != Some(manifest::FORMAT) {
        return None; // some other JSON file
    }
    let m: IndexFields = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return skip(warnings, e.to_string()),
    };
    let dir = rel.parent().unwrap_or(Path::new(""));
    // A name relative to the manifest, as one relative to the index: only plain names count,
    // so a doctored manifest cannot point the index outside the folder.
    let beside = |name: &str| -> Option<(String, PathBuf)> {
        let name = Path::new(name);
        let plain = name.components().count() == 1
            && matches!(
                name.components().next(),
                Some(std::path::Component::Normal(_))
            );
        if !plain {
            return None;
        }
        let rel = dir.join(name);
        let on_disk = out_dir.join(&rel);
        Some((slash_path(&rel), on_disk))
    };
    let duration_ms = crate::audio::frames_to_ms(m.total_frames, m.sample_rate);
    let audio = m
        .files
        .audio()
        .into_iter()
        .filter_map(|(format, name)| {
            let (href, on_disk) = beside(name)?;
            let meta = std::fs::metadata(on_disk).ok().filter(|md| md.is_file())?;
            Some(AudioFile {
                name: href,
                mime: format.mime().into(),
                bytes: meta.len(),
                duration_ms,
            })
        })
        .collect();
    let page = m
        .files
        .page
        .as_deref()
        .and_then(beside)
        .filter(|(_, on_disk)| on_disk.is_file())
        .map(|(href, _)| href);
    Some(IndexEntry {
        path: slash_path(rel),
        title: m.title,
        author: m.author,
        date: m.date,
        duration_ms,
        chapters: m.chapters.len(),
        page,
        audio,
    })
}

/// Just enough of a JSON file to tell an aloud manifest.
#[derive(serde::Deserialize)]
struct FormatProbe {
    format: Option<String>,
}

/// The manifest fields the index uses (the rest is skipped unread).
#[derive(serde::Deserialize)]
struct IndexFields {
    title: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    date: Option<String>,
    total_frames: u64,
    sample_rate: u32,
    files: manifest::Files,
    chapters: Vec<serde::de::IgnoredAny>,
}

/// Writes a hidden temporary file in `dir` and renames it to `path`, so readers (and a
/// concurrent rebuild) never see half a page. Published with the usual mode, umask applied.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = crate::pipeline::hidden_temp(dir, INDEX_FILE)?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A relative path with `/` separators, for URLs and sorting.
fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
