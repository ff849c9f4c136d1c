//! The unit cache: synthesized audio, content-addressed, shared by every run (and every shard).
//!
//! A unit's key hashes everything that determines its audio: the engine's name and version,
//! the settings that shape the sound, the sample rate, and the exact text the engine was given
//! (after normalisation and the lexicon). Change any of them and the key changes; change
//! nothing and a rerun synthesizes nothing.
//!
//! Each entry is one file, `units/KK/KEY.unit`: an 8-byte magic, the sample rate, the frame
//! count, the number of timing marks, the SHA-256 of everything that follows the header, then
//! the marks (kind, frame, text range) and the samples (16-bit little-endian). Entries are
//! written to a temporary file in the same folder and renamed, so a killed run never leaves a
//! torn entry; an entry that is short, long or fails its hash anyway (a disk error, a hand
//! edit) is treated as missing, deleted and synthesized again.

use crate::audio::{Audio, Mark, MarkKind};
use crate::hex;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ALOUDU02";
const HEADER: usize = 8 + 4 + 8 + 4 + 32;
const MARK: usize = 1 + 8 + 4 + 4;

/// A cache folder.
#[derive(Debug, Clone)]
pub struct UnitCache {
    dir: PathBuf,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A valid entry.
    Hit(Audio),
    /// No entry.
    Miss,
    /// An entry that failed its checks; it has been removed.
    Corrupt,
}

/// How much the cache holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Entries.
    pub entries: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

impl UnitCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        UnitCache { dir: dir.into() }
    }

    /// The default folder: the user's cache directory (`~/.cache/aloud` on Linux, honouring
    /// `XDG_CACHE_HOME`).
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "aloud").map(|d| d.cache_dir().to_path_buf())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder the entries are in.
    pub fn units_dir(&self) -> PathBuf {
        self.dir.join("units")
    }

    fn path(&self, key: &str) -> PathBuf {
        self.units_dir().join(&key[..2]).join(format!("{key}.unit"))
    }

    /// Looks a unit up.
    pub fn get(&self, key: &str) -> Lookup {
        let path = self.path(key);
        let Ok(bytes) = std::fs::read(&path) else {
            return Lookup::Miss;
        };
        match decode(&bytes) {
            Some(audio) => Lookup::Hit(audio),
            None => {
                let _ = std::fs::remove_file(&path);
                Lookup::Corrupt
            }
        }
    }

    /// Stores a unit atomically. Failing to cache is not an error worth failing a run for;
    /// the caller may report it.
    pub fn put(&self, key: &str, audio: &Audio) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("entries live in a folder");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        tmp.write_all(&encode(audio))?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Counts entries and bytes.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for file in self.entry_files() {
            stats.entries += 1;
            stats.bytes += std::fs::metadata(&file).map_or(0, |m| m.len());
        }
        stats
    }

    /// Deletes every entry and leftover temporary file, then the folders left empty; anything
    /// else (a file someone put there) stays. Returns what was removed.
    pub fn clear(&self) -> std::io::Result<CacheStats> {
        let stats = self.stats();
        for file in self.shard_files() {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with(".unit") || name.starts_with(".tmp-") {
                std::fs::remove_file(&file)?;
            }
        }
        // Only empty folders go.
        for shard in self.shards() {
            let _ = std::fs::remove_dir(shard);
        }
        let _ = std::fs::remove_dir(self.units_dir());
        Ok(stats)
    }

    /// The shard folders under `units/`.
    fn shards(&self) -> Vec<PathBuf> {
        let Ok(shards) = std::fs::read_dir(self.units_dir()) else {
            return Vec::new();
        };
        shards
            .flatten()
            .map(|s| s.path())
            .filter(|p| p.is_dir())
            .collect()
    }

    /// Every file in the shard folders: entries, and whatever else is there.
    fn shard_files(&self) -> Vec<PathBuf> {
        self.shards()
            .iter()
            .filter_map(|s| std::fs::read_dir(s).ok())
            .flat_map(|rd| rd.flatten().map(|e| e.path()))
            .collect()
    }

    fn entry_files(&self) -> Vec<PathBuf> {
        self.shard_files()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "unit"))
            .collect()
    }
}

/// The key of a unit: SHA-256 over every input that determines its audio.
pub fn unit_key(engine: &crate::backend::EngineInfo, text: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        // Length-prefixed, so no two different inputs hash the same byte stream.
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"aloud-unit-v1");
    field(engine.name.as_bytes());
    field(engine.version.as_bytes());
    field(&engine.sample_rate.to_le_bytes());
    field(b"mono-s16le");
    let mut settings = engine.settings.clone();
    settings.sort();
    for (k, v) in &settings {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    field(text.as_bytes());
    hex(&h.finalize())
}

fn encode(audio: &Audio) -> Vec<u8> {
    let mut body = Vec::with_capacity(audio.marks.len() * MARK + audio.samples.len() * 2);
    for m in &audio.marks {
        body.push(match m.kind {
            MarkKind::Word => 0,
            MarkKind::Sentence => 1,
        });
        body.extend_from_slice(&m.frame.to_le_bytes());
        body.extend_from_slice(&(m.text.start as u32).to_le_bytes());
        body.extend_from_slice(&(m.text.end as u32).to_le_bytes());
    }
    for s in &audio.samples {
        body.extend_from_slice(&s.to_le_bytes());
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&audio.sample_rate.to_le_bytes());
    out.extend_from_slice(&audio.frames().to_le_bytes());
    out.extend_from_slice(&(audio.marks.len() as u32).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

fn decode(bytes: &[u8]) -> Option<Audio> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let sample_rate = u32_at(8);
    let frames = u64_at(12);
    let marks = u32_at(20) as usize;
    let body = &bytes[HEADER..];
    let expected = (marks as u64)
        .checked_mul(MARK as u64)?
        .checked_add(frames.checked_mul(2)?)?;
    if frames == 0 || sample_rate == 0 || body.len() as u64 != expected {
        return None;
    }
    if Sha256::digest(body).as_slice() != &bytes[24..56] {
        return None;
    }
    let (mark_bytes, data) = body.split_at(marks * MARK);
    let marks = mark_bytes
        .chunks_exact(MARK)
        .map(|m| {
            let kind = if m[0] == 0 {
                MarkKind::Word
            } else {
                MarkKind::Sentence
            };
            let frame = u64::from_le_bytes(m[1..9].try_into().expect("8 bytes"));
            let start = u32::from_le_bytes(m[9..13].try_into().expect("4 bytes")) as usize;
            let end = u32::from_le_bytes(m[13..17].try_into().expect("4 bytes")) as usize;
            Mark {
                kind,
                frame,
                text: start..end,
            }
        })
        .collect();
    let samples = data
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Some(Audio {
        sample_rate,
        samples,
        marks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::EngineInfo;

    fn engine(version: &str) -> EngineInfo {
        EngineInfo {
            name: "e".into(),
            version: version.into(),
            sample_rate: 22050,
            settings: vec![("voice".into(), "en".into())],
            language: None,
        }
    }

    #[test]
    fn round_trip_and_key_sensitivity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = UnitCache::new(dir.path());
        let mut audio = Audio::new(22050, vec![1, -2, 3]);
        audio.marks.push(Mark {
            kind: MarkKind::Word,
            frame: 2,
            text: 0..5,
        });
        let key = unit_key(&engine("1"), "hello");
        assert!(matches!(cache.get(&key), Lookup::Miss));
        cache.put(&key, &audio).unwrap();
        assert!(matches!(cache.get(&key), Lookup::Hit(a) if a == audio));
        assert_ne!(key, unit_key(&engine("2"), "hello"));
        assert_ne!(key, unit_key(&engine("1"), "hello "));
        assert_eq!(
            cache.stats(),
            CacheStats {
                entries: 1,
                bytes: (HEADER + MARK + 6) as u64
            }
        );
        // A killed run's temporary file goes with the entries; a file someone put there stays.
        let shard = dir.path().join("units").join(&key[..2]);
        std::fs::write(shard.join(".tmp-abc123"), b"partial").unwrap();
        std::fs::write(shard.join("mine.txt"), b"not aloud's").unwrap();
        assert_eq!(cache.clear().unwrap().entries, 1);
        assert_eq!(cache.stats().entries, 0);
        let left: Vec<_> = std::fs::read_dir(&shard)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["mine.txt"]);
        // With nothing else in them, the folders go too.
        std::fs::remove_file(shard.join("mine.txt")).unwrap();
        cache.clear().unwrap();
        assert!(!dir.path().join("units").exists());
    }

    #[test]
    fn corrupt_entries_are_detected_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = UnitCache::new(dir.path());
        let audio = Audio::new(8000, vec![5; 100]);
        let key = unit_key(&engine("1"), "x");
        for damage in [
            |b: &mut Vec<u8>| b.truncate(b.len() - 1),
            |b: &mut Vec<u8>| b.push(0),
            |b: &mut Vec<u8>| {
                let n = b.len();
                b[n - 1] ^= 0xff;
            },
            |b: &mut Vec<u8>| b[0] = b'X',
            |b: &mut Vec<u8>| b.clear(),
        ] {
            cache.put(&key, &audio).unwrap();
            let path = cache.path(&key);
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
            assert!(matches!(cache.get(&key), Lookup::Corrupt));
            assert!(!path.exists());
        }
    }
}
