//! The sample model and everything that touches WAV bytes.
//!
//! - [`Audio`]: one synthesized unit, mono 16-bit PCM, small enough to live in memory.
//! - [`read`]: turns an engine's finished WAV file into [`Audio`], trusting nothing about it.
//! - [`riff`]: the streaming writer for the article's WAV, with `LIST/INFO`, `cue ` and
//!   `LIST/adtl` chunks (hound cannot write those).
//! - [`inspect`]: a strict, independent parser of our own output, used by tests and `verify`.
//! - [`check`]: the checks every synthesized unit must pass; [`digest`]: the hash of a
//!   chapter's audio.
//! - [`loudness`]: EBU R128 loudness and true-peak measurement, and normalisation with a
//!   true-peak limiter.
//!
//! Time is a `u64` count of sample frames everywhere; it becomes seconds only in text formats.

pub mod check;
pub mod digest;
pub mod inspect;
pub mod loudness;
pub mod read;
pub mod resample;
pub mod riff;

/// Mono 16-bit PCM audio for one synthesis unit, with the timing marks the engine reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// Frames per second.
    pub sample_rate: u32,
    /// One sample per frame (mono).
    pub samples: Vec<i16>,
    /// Where words and sentences start, in order; empty when the engine cannot tell.
    pub marks: Vec<Mark>,
}

/// A point in a unit's audio where a word or sentence of its text begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What begins here.
    pub kind: MarkKind,
    /// Frame offset from the start of the unit's audio.
    pub frame: u64,
    /// Byte range of the word or sentence in the unit's text (the text the engine was given).
    pub text: std::ops::Range<usize>,
}

/// The kinds of [`Mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkKind {
    /// A word.
    Word,
    /// A sentence.
    Sentence,
}

impl Audio {
    /// Audio with no timing marks.
    pub fn new(sample_rate: u32, samples: Vec<i16>) -> Audio {
        Audio {
            sample_rate,
            samples,
            marks: Vec::new(),
        }
    }

    /// Number of sample frames.
    pub fn frames(&self) -> u64 {
        self.samples.len() as u64
    }
}

/// Converts a frame count to whole milliseconds, rounding half up, in integer arithmetic.
pub fn frames_to_ms(frames: u64, sample_rate: u32) -> u64 {
    scale(frames, sample_rate, 1000)
}

/// Converts milliseconds to frames, rounding half up.
pub fn ms_to_frames(ms: u64, sample_rate: u32) -> u64 {
    scale(ms, 1000, sample_rate)
}

/// `samples` as the 16-bit little-endian bytes WAV files hold: their own memory on a
/// little-endian machine (x86-64, AArch64), a conversion into `scratch` on a big-endian one.
pub fn le_bytes<'a>(samples: &'a [i16], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice(samples)
    } else {
        scratch.clear();
        scratch.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        scratch
    }
}

/// Appends `n` samples to `out` from their 16-bit little-endian bytes, the inverse of
/// [`le_bytes`]: `fill` reads the bytes straight into the new end of `out` (from a pipe, a
/// file, a slice), which are then turned into numbers in place (nothing to do on a
/// little-endian machine). No buffer of bytes, no copy.
pub fn read_le_samples<E>(
    out: &mut Vec<i16>,
    n: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    out.resize(start + n, 0);
    fill(bytemuck::cast_slice_mut(&mut out[start..]))?;
    if cfg!(target_endian = "big") {
        for s in &mut out[start..] {
            *s = i16::from_le(*s);
        }
    }
    Ok(())
}

/// `count × to / from` (a count of units of `1/from` s in units of `1/to` s), rounded half up,
/// in integers; a `from` of 0 counts as 1.
pub fn scale(count: u64, from: u32, to: u32) -> u64 {
    let (f, t) = (u128::from(from.max(1)), u128::from(to));
    ((u128::from(count) * t + f / 2) / f) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_conversions_round_half_up() {
        assert_eq!(frames_to_ms(0, 22050), 0);
        assert_eq!(frames_to_ms(22050, 22050), 1000);
        assert_eq!(frames_to_ms(52635, 22050), 2387); // 2387.07
        assert_eq!(frames_to_ms(97920, 22050), 4441); // 4440.82
        assert_eq!(ms_to_frames(400, 22050), 8820);
        assert_eq!(ms_to_frames(1, 22050), 22); // 22.05
    }

    #[test]
    fn seven_hours_do_not_overflow() {
        let frames = 7 * 3600 * 48_000u64;
        assert_eq!(frames_to_ms(frames, 48_000), 7 * 3600 * 1000);
    }
}
