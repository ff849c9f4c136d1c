//! The output folder's index page, `index.html`: every article converted into the folder.
//!
//! It is rebuilt from the manifests on disk, never from one run's memory, so several runs (or
//! shards on different machines) into one folder give one complete index: whichever rebuild
//! comes last sees every manifest. A manifest is any `*.json` under the folder whose `format`
//! is `aloud-manifest`; the walk skips hidden files and folders (our temporary files among
//! them) and does not follow links to folders. A manifest that cannot be read is skipped with
//! a warning naming it. Links go only to files that exist. The page is written atomically.
//! Each manifest is read only as far as the fields the index shows, which aloud writes before
//! the paragraphs and their word timings: a long article's manifest runs to tens of megabytes.
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
    let read = std::fs::File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|file| read_index_fields(std::io::BufReader::with_capacity(64 * 1024, file)));
    let m = match read {
        Ok(Some(m)) => m,
        Ok(None) => return None, // some other JSON file
        Err(why) => return skip(warnings, why),
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
        chapters: m.chapters,
        page,
        audio,
    })
}

/// The manifest fields the index uses.
#[derive(Debug)]
struct IndexFields {
    title: String,
    author: Option<String>,
    date: Option<String>,
    total_frames: u64,
    sample_rate: u32,
    files: manifest::Files,
    chapters: usize,
}

/// Reads the fields the index shows from a JSON file, in one pass that stops once they are
/// all read. aloud writes them first, before the paragraphs and their word timings (tens of
/// megabytes for a long article), so a folder of long articles is indexed without reading
/// them; a manifest damaged only after those fields is still listed. `Ok(None)`: the file
/// is JSON, but not an aloud manifest.
fn read_index_fields(reader: impl std::io::Read) -> Result<Option<IndexFields>, String> {
    let mut found = Found::default();
    let mut json = serde_json::Deserializer::from_reader(reader);
    let read = serde::Deserializer::deserialize_map(&mut json, Scan(&mut found));
    match (read, found.stopped) {
        (Err(_), Some(Stop::NotAManifest)) => return Ok(None),
        (Err(_), Some(Stop::AllRead)) => {}
        (Err(e), None) => return Err(e.to_string()),
        (Ok(()), _) => {
            json.end().map_err(|e| e.to_string())?;
            if !found.is_manifest {
                return Ok(None);
            }
        }
    }
    let missing = |field: &str| format!("missing field `{field}`");
    Ok(Some(IndexFields {
        title: found.title.ok_or_else(|| missing("title"))?,
        author: found.author,
        date: found.date,
        total_frames: found.total_frames.ok_or_else(|| missing("total_frames"))?,
        sample_rate: found.sample_rate.ok_or_else(|| missing("sample_rate"))?,
        files: found.files.ok_or_else(|| missing("files"))?,
        chapters: found.chapters.ok_or_else(|| missing("chapters"))?,
    }))
}

/// What [`Scan`] has read so far.
#[derive(Default)]
struct Found {
    is_manifest: bool,
    title: Option<String>,
    author: Option<String>,
    date: Option<String>,
    total_frames: Option<u64>,
    sample_rate: Option<u32>,
    files: Option<manifest::Files>,
    chapters: Option<usize>,
    stopped: Option<Stop>,
}

impl Found {
    /// Everything the index needs (the author and date are optional, and come before the
    /// chapters in a manifest).
    fn all_read(&self) -> bool {
        self.is_manifest
            && self.title.is_some()
            && self.total_frames.is_some()
            && self.sample_rate.is_some()
            && self.files.is_some()
            && self.chapters.is_some()
    }
}

/// Why [`Scan`] stopped before the end of the object.
#[derive(Clone, Copy)]
enum Stop {
    NotAManifest,
    AllRead,
}

/// Reads a JSON object's fields in order into a [`Found`], stopping (with an error the
/// caller tells apart by [`Found::stopped`]) once the object is known not to be a manifest or
/// everything the index needs is read.
struct Scan<'a>(&'a mut Found);

impl<'de> serde::de::Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::{Error, IgnoredAny};
        let found = self.0;
        let stop = |found: &mut Found, why: Stop| {
            found.stopped = Some(why);
            Err(A::Error::custom("stopped reading"))
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let format: Option<String> = map.next_value()?;
                    if format.as_deref() != Some(manifest::FORMAT) {
                        return stop(found, Stop::NotAManifest);
                    }
                    found.is_manifest = true;
                }
                "title" => found.title = Some(map.next_value()?),
                "author" => found.author = map.next_value()?,
                "date" => found.date = map.next_value()?,
                "total_frames" => found.total_frames = Some(map.next_value()?),
                "sample_rate" => found.sample_rate = Some(map.next_value()?),
                "files" => found.files = Some(map.next_value()?),
                "chapters" => found.chapters = Some(map.next_value::<Vec<IgnoredAny>>()?.len()),
                _ if found.all_read() => return stop(found, Stop::AllRead),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest's head as aloud writes it, then `rest` (the paragraphs onwards).
    fn manifest_with(rest: &str) -> String {
        format!(
            r#"{{"format": "aloud-manifest", "format_version": 2, "title": "T", "author": "A",
                "engine": {{"name": "mock"}}, "sample_rate": 22050, "total_frames": 44100,
                "files": {{"wav": "t.wav", "page": "t.html"}},
                "chapters": [{{"title": "One"}}, {{"title": "Two"}}]{rest}"#
        )
    }

    fn read(json: &str) -> Result<Option<IndexFields>, String> {
        read_index_fields(json.as_bytes())
    }

    #[test]
    fn a_whole_manifest_gives_the_index_fields() {
        let m = read(&manifest_with(r#", "paragraphs": [], "skipped": []}"#))
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.title.as_str(), m.author.as_deref(), m.date.as_deref()),
            ("T", Some("A"), None)
        );
        assert_eq!(
            (m.total_frames, m.sample_rate, m.chapters),
            (44100, 22050, 2)
        );
        assert_eq!(m.files.wav.as_deref(), Some("t.wav"));
        assert_eq!(m.files.page.as_deref(), Some("t.html"));
    }

    #[test]
    fn reading_stops_before_the_paragraphs() {
        // Everything after the chapters is never read: here it is not even JSON.
        let m = read(&manifest_with(r#", "paragraphs": [{"words": [1, 2,"#)).unwrap();
        assert_eq!(m.map(|m| m.chapters), Some(2));
    }

    #[test]
    fn other_json_is_not_a_manifest() {
        assert!(read(r#"{"something": "else"}"#).unwrap().is_none());
        assert!(read(r#"{"format": null, "title": "T"}"#).unwrap().is_none());
        // The format is looked at before anything after it.
        assert!(
            read(r#"{"format": "other", "rest": [1, 2,"#)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn broken_manifests_say_why() {
        let not_json = read("# not json").unwrap_err();
        assert!(not_json.contains("expected value"), "{not_json}");
        let array = read("[1, 2]").unwrap_err();
        assert!(array.contains("expected a JSON object"), "{array}");
        let wrong = read(r#"{"format": "aloud-manifest", "title": 3}"#).unwrap_err();
        assert!(wrong.contains("invalid type: integer `3`"), "{wrong}");
        let missing = read(r#"{"format": "aloud-manifest", "title": "T"}"#).unwrap_err();
        assert_eq!(missing, "missing field `total_frames`");
        let trailing = read(r#"{"something": "else"} and more"#).unwrap_err();
        assert!(trailing.contains("trailing characters"), "{trailing}");
        let cut = read(&manifest_with("")).unwrap_err();
        assert!(cut.contains("EOF"), "{cut}");
    }
}
