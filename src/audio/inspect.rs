//! A strict, independent reader of the WAV files `aloud` writes.
//!
//! It checks what third-party readers forgive or get wrong (see `shared/FORMATS.md` §3): the
//! RIFF size equals the file length minus 8, every odd chunk has its zero pad byte, `fmt `
//! precedes `data`, `cue ` precedes `LIST/adtl`, and inside `adtl` every `labl` comes before
//! any `note` or `ltxt`. It reads chunk headers and metadata only; the audio is skipped, so it
//! is cheap on a seven-hour file.
//!
//! RF64 files (EBU Tech 3306) are read too: their `ds64` chunk, which must come first, holds
//! the real RIFF and data sizes.
//!
//! It shares no code with the writer on purpose: a bug in one must not hide in the other.

use std::io::{self, Read, Seek, SeekFrom};

/// One chapter read back from `cue ` + `LIST/adtl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedCue {
    /// The cue point's id (dwName).
    pub id: u32,
    /// dwPosition.
    pub position: u32,
    /// dwSampleOffset (what FFmpeg uses).
    pub sample_offset: u32,
    /// The `labl` text for this id, if any.
    pub title: Option<String>,
    /// The `ltxt` region length for this id, if any.
    pub length: Option<u32>,
}

/// What a WAV file holds, as far as `aloud` cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavLayout {
    /// wFormatTag (1 = PCM).
    pub format_tag: u16,
    /// nChannels.
    pub channels: u16,
    /// nSamplesPerSec.
    pub sample_rate: u32,
    /// wBitsPerSample.
    pub bits_per_sample: u16,
    /// File offset of the first audio byte.
    pub data_offset: u64,
    /// Audio bytes.
    pub data_bytes: u64,
    /// Audio frames (data bytes / block align).
    pub frames: u64,
    /// `LIST/INFO` entries in file order, e.g. `("INAM", "Title")`.
    pub info: Vec<(String, String)>,
    /// Chapters in cue order.
    pub cues: Vec<InspectedCue>,
    /// Top-level chunk ids in file order.
    pub chunk_order: Vec<String>,
    /// Whether the file is RF64.
    pub rf64: bool,
}

/// Why a file is not a well-formed `aloud` WAV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The file could not be read.
    #[error("could not read the file: {0}")]
    Io(#[from] io::Error),
    /// The file breaks a structural rule.
    #[error("malformed WAV at byte {offset}: {detail}")]
    Malformed {
        /// Where the problem is.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
}

fn malformed(offset: u64, detail: impl Into<String>) -> InspectError {
    InspectError::Malformed {
        offset,
        detail: detail.into(),
    }
}

/// Reads and checks a WAV file's structure.
pub fn inspect<R: Read + Seek>(mut r: R) -> Result<WavLayout, InspectError> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    r.read_exact(&mut head)
        .map_err(|_| malformed(0, "shorter than a RIFF header"))?;
    let rf64 = &head[0..4] == b"RF64";
    if !(rf64 || &head[0..4] == b"RIFF") || &head[8..12] != b"WAVE" {
        return Err(malformed(0, "not a RIFF/WAVE (or RF64) file"));
    }
    // RF64: the sizes live in the ds64 chunk, which must come first.
    let mut ds64_data_size = None;
    let riff_size = if rf64 {
        if u32_at(&head, 4) != u32::MAX {
            return Err(malformed(4, "an RF64 file's RIFF size must be 0xFFFFFFFF"));
        }
        let mut ds = [0u8; 36];
        r.read_exact(&mut ds)
            .map_err(|_| malformed(12, "RF64 without a ds64 chunk"))?;
        if &ds[0..4] != b"ds64" || u32_at(&ds, 4) < 28 {
            return Err(malformed(12, "an RF64 file must start with a ds64 chunk"));
        }
        ds64_data_size = Some(u64_at(&ds, 16));
        u64_at(&ds, 8)
    } else {
        u64::from(u32_at(&head, 4))
    };
    if riff_size != len - 8 {
        return Err(malformed(
            4,
            format!(
                "RIFF size is {riff_size}, but the file length minus 8 is {}",
                len - 8
            ),
        ));
    }

    let mut fmt: Option<(u16, u16, u32, u16, u16)> = None;
    let mut data: Option<(u64, u64)> = None;
    let mut info = Vec::new();
    let mut cues: Vec<InspectedCue> = Vec::new();
    let mut seen_adtl = false;
    let mut chunk_order = Vec::new();

    let mut pos = 12u64;
    while pos < len {
        if len - pos < 8 {
            return Err(malformed(
                pos,
                "trailing bytes too short for a chunk header",
            ));
        }
        let mut hdr = [0u8; 8];
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(&mut hdr)?;
        let id = fourcc(&hdr[0..4]);
        let mut size = u64::from(u32_at(&hdr, 4));
        if id == "data"
            && size == u64::from(u32::MAX)
            && let Some(real) = ds64_data_size
        {
            size = real;
        }
        let body = pos + 8;
        let padded = size + size % 2;
        if body + padded > len {
            return Err(malformed(
                pos,
                format!("chunk '{id}' of {size} bytes (plus pad) runs past the end of the file"),
            ));
        }
        if size % 2 == 1 {
            let mut pad = [0u8; 1];
            r.seek(SeekFrom::Start(body + size))?;
            r.read_exact(&mut pad)?;
            if pad[0] != 0 {
                return Err(malformed(
                    body + size,
                    format!("pad byte after '{id}' is not zero"),
                ));
            }
        }
        chunk_order.push(id.clone());
        match id.as_str() {
            "fmt " => {
                if fmt.is_some() {
                    return Err(malformed(pos, "a second 'fmt ' chunk"));
                }
                if size < 16 {
                    return Err(malformed(pos, "'fmt ' chunk shorter than 16 bytes"));
                }
                let b = read_body(&mut r, body, 16)?;
                fmt = Some((
                    u16_at(&b, 0),
                    u16_at(&b, 2),
                    u32_at(&b, 4),
                    u16_at(&b, 12),
                    u16_at(&b, 14),
                ));
            }
            "data" => {
                if fmt.is_none() {
                    return Err(malformed(pos, "'data' before 'fmt '"));
                }
                if data.is_some() {
                    return Err(malformed(pos, "a second 'data' chunk"));
                }
                data = Some((body, size));
            }
            "cue " => {
                if seen_adtl {
                    return Err(malformed(
                        pos,
                        "'cue ' after 'LIST/adtl' (FFmpeg and libsndfile then lose the titles)",
                    ));
                }
                if !cues.is_empty() {
                    return Err(malformed(pos, "a second 'cue ' chunk"));
                }
                let b = read_body(&mut r, body, size)?;
                if b.len() < 4 {
                    return Err(malformed(pos, "'cue ' chunk without a point count"));
                }
                let n = u32_at(&b, 0) as usize;
                if b.len() != 4 + 24 * n {
                    return Err(malformed(
                        pos,
                        format!("'cue ' size {size} does not match its {n} points"),
                    ));
                }
                for i in 0..n {
                    let p = &b[4 + 24 * i..4 + 24 * (i + 1)];
                    if &p[8..12] != b"data" {
                        return Err(malformed(
                            body + 4 + 24 * i as u64,
                            "cue point not in 'data'",
                        ));
                    }
                    cues.push(InspectedCue {
                        id: u32_at(p, 0),
                        position: u32_at(p, 4),
                        sample_offset: u32_at(p, 20),
                        title: None,
                        length: None,
                    });
                }
            }
            "LIST" => {
                let b = read_body(&mut r, body, size)?;
                if b.len() < 4 {
                    return Err(malformed(pos, "'LIST' without a type"));
                }
                let kind = fourcc(&b[0..4]);
                let subs = sub_chunks(&b[4..], body + 4)?;
                match kind.as_str() {
                    "INFO" => {
                        for (sid, payload, _) in subs {
                            info.push((sid, zstr(payload)));
                        }
                    }
                    "adtl" => {
                        seen_adtl = true;
                        let mut past_labels = false;
                        for (sid, payload, at) in subs {
                            match sid.as_str() {
                                "labl" => {
                                    if past_labels {
                                        return Err(malformed(
                                            at,
                                            "'labl' after 'note'/'ltxt' (FFmpeg and libsndfile stop at the first non-labl)",
                                        ));
                                    }
                                    let cue = find_cue(&mut cues, payload, at)?;
                                    cue.title = Some(zstr(&payload[4..]));
                                }
                                "ltxt" => {
                                    past_labels = true;
                                    if payload.len() < 20 {
                                        return Err(malformed(at, "'ltxt' shorter than 20 bytes"));
                                    }
                                    let cue = find_cue(&mut cues, payload, at)?;
                                    cue.length = Some(u32_at(payload, 4));
                                }
                                _ => past_labels = true,
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        pos = body + padded;
    }

    let Some((format_tag, channels, sample_rate, block_align, bits_per_sample)) = fmt else {
        return Err(malformed(12, "no 'fmt ' chunk"));
    };
    let Some((data_offset, data_bytes)) = data else {
        return Err(malformed(12, "no 'data' chunk"));
    };
    if block_align == 0 {
        return Err(malformed(12, "block align is 0"));
    }
    Ok(WavLayout {
        format_tag,
        channels,
        sample_rate,
        bits_per_sample,
        data_offset,
        data_bytes,
        frames: data_bytes / u64::from(block_align),
        info,
        cues,
        chunk_order,
        rf64,
    })
}

fn find_cue<'a>(
    cues: &'a mut [InspectedCue],
    payload: &[u8],
    at: u64,
) -> Result<&'a mut InspectedCue, InspectError> {
    if payload.len() < 4 {
        return Err(malformed(at, "adtl sub-chunk without a cue id"));
    }
    let id = u32_at(payload, 0);
    // Ids are 1..N in order in our files: try that slot first, so 100,000 chapters stay linear.
    let slot = (id as usize).wrapping_sub(1);
    if cues.get(slot).is_some_and(|c| c.id == id) {
        return Ok(&mut cues[slot]);
    }
    cues.iter_mut().find(|c| c.id == id).ok_or_else(|| {
        malformed(
            at,
            format!("adtl entry for cue id {id}, which does not exist"),
        )
    })
}

/// A sub-chunk of a LIST: id, payload, file offset of its header.
type SubChunk<'a> = (String, &'a [u8], u64);

/// Splits a LIST body into sub-chunks, checking sizes and pads.
fn sub_chunks(mut b: &[u8], mut at: u64) -> Result<Vec<SubChunk<'_>>, InspectError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 8 {
            return Err(malformed(at, "LIST ends inside a sub-chunk header"));
        }
        let id = fourcc(&b[0..4]);
        let size = u32_at(b, 4) as usize;
        let padded = size + size % 2;
        if b.len() < 8 + padded {
            return Err(malformed(
                at,
                format!("sub-chunk '{id}' of {size} bytes (plus pad) runs past its LIST"),
            ));
        }
        out.push((id, &b[8..8 + size], at));
        b = &b[8 + padded..];
        at += 8 + padded as u64;
    }
    Ok(out)
}

fn read_body<R: Read + Seek>(r: &mut R, at: u64, size: u64) -> Result<Vec<u8>, InspectError> {
    // Metadata chunks are small; refuse to slurp a huge one into memory.
    if size > 64 * 1024 * 1024 {
        return Err(malformed(
            at,
            format!("metadata chunk of {size} bytes is implausibly large"),
        ));
    }
    r.seek(SeekFrom::Start(at))?;
    let mut b = vec![0u8; size as usize];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn zstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn fourcc(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
