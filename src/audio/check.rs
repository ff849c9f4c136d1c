//! Checks every synthesized unit before it is accepted, so text cannot silently go missing.
//!
//! Engines fail quietly: they exit 0 having spoken half a paragraph, or nothing but silence, or
//! clipped noise. A unit is accepted only if:
//! - **its length fits its text**: for units of at least [`MIN_CHARS_FOR_RATE`] characters,
//!   the speaking rate (characters per second of audio) lies within a band around what the
//!   engine is expected to do (see [`Expectation`]); a unit far shorter than its text lost text,
//!   one far longer is stuck or looping;
//! - **it is not silent**: its peak is above [`SILENT_PEAK`] (about −50 dBFS);
//! - **it is not clipped**: at most [`MAX_CLIPPED`] of its samples sit at full scale;
//! - **it has no long silence inside**: no run of near-silence (below [`SILENT_PEAK`]) longer
//!   than [`MAX_SILENCE_MS`] between its first and last sound; engines pause at most about
//!   a second at a paragraph's end.
//!
//! A unit that fails is retried like an engine failure, then reported with its article and
//! paragraph. The measured values go into the manifest for every unit.

use super::Audio;
use serde::{Deserialize, Serialize};

/// Units shorter than this are not held to the rate band (a few characters can take any time).
pub const MIN_CHARS_FOR_RATE: usize = 20;
/// Peak below which a unit counts as silent (about −50 dBFS).
pub const SILENT_PEAK: i16 = 100;
/// Largest share of samples at full scale.
pub const MAX_CLIPPED: f64 = 0.01;
/// Longest silence allowed inside a unit.
pub const MAX_SILENCE_MS: u64 = 3000;

/// What rate of speech to expect from an engine, in characters per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    /// The typical rate.
    pub chars_per_second: f64,
    /// How far from it a unit may be, as a factor (4 means from a quarter to four times).
    pub tolerance: f64,
}

impl Expectation {
    /// espeak-ng at `wpm` words per minute: about 17 characters per second at 175 wpm.
    pub fn espeak(wpm: u32) -> Expectation {
        Expectation {
            chars_per_second: 17.0 * f64::from(wpm) / 175.0,
            tolerance: 4.0,
        }
    }

    /// The mock: exactly `1000 / ms_per_char`.
    pub fn mock(ms_per_char: u32) -> Expectation {
        Expectation {
            chars_per_second: 1000.0 / f64::from(ms_per_char.max(1)),
            tolerance: 1.5,
        }
    }

    /// Any other engine: natural speech runs at 10 to 20 characters per second.
    pub fn other() -> Expectation {
        Expectation {
            chars_per_second: 15.0,
            tolerance: 5.0,
        }
    }
}

/// The measurements for one unit, and whether it passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitCheck {
    /// Characters of text per second of audio.
    pub chars_per_second: f64,
    /// Largest absolute sample.
    pub peak: u16,
    /// Share of samples at full scale.
    pub clipped: f64,
    /// Longest near-silence between the first and the last sound, in milliseconds.
    pub longest_silence_ms: u64,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Measures `audio` against `text` and `expect`.
pub fn check(audio: &Audio, text: &str, expect: Expectation) -> UnitCheck {
    let frames = audio.samples.len().max(1);
    let seconds = frames as f64 / f64::from(audio.sample_rate.max(1));
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    let chars_per_second = round3(chars as f64 / seconds);
    let Scan {
        peak,
        full,
        longest_inner_silence,
    } = scan(&audio.samples);
    let clipped = round3(full as f64 / frames as f64);
    let longest_silence_ms = longest_inner_silence * 1000 / u64::from(audio.sample_rate.max(1));

    let (low, high) = (
        expect.chars_per_second / expect.tolerance,
        expect.chars_per_second * expect.tolerance,
    );
    let problem = if peak < SILENT_PEAK as u16 {
        Some(format!("the audio is silent (peak {peak})"))
    } else if clipped > MAX_CLIPPED {
        Some(format!(
            "the audio is clipped ({:.1}% of samples at full scale)",
            clipped * 100.0
        ))
    } else if chars >= MIN_CHARS_FOR_RATE && chars_per_second > high {
        Some(format!(
            "{seconds:.2} s of audio is too short for {chars} characters ({chars_per_second} per second, expected at most {high:.0}): text is missing"
        ))
    } else if chars >= MIN_CHARS_FOR_RATE && chars_per_second < low {
        Some(format!(
            "{seconds:.2} s of audio is too long for {chars} characters ({chars_per_second} per second, expected at least {low:.1})"
        ))
    } else if longest_silence_ms > MAX_SILENCE_MS {
        Some(format!(
            "it holds {longest_silence_ms} ms of silence (at most {MAX_SILENCE_MS} ms expected)"
        ))
    } else {
        None
    };
    UnitCheck {
        chars_per_second,
        peak,
        clipped,
        longest_silence_ms,
        problem,
    }
}

/// What one pass over a unit's samples measures.
#[derive(Debug, PartialEq, Eq)]
struct Scan {
    /// Largest absolute sample.
    peak: u16,
    /// Samples at full scale (`i16::MAX` or `i16::MIN`).
    full: usize,
    /// Frames in the longest run of near-silence after the first sound and before the last.
    longest_inner_silence: u64,
}

/// Measures everything in one pass, 64 samples at a time. Every sample of every unit passes
/// through here, so it matters: the straightforward four passes cost as much CPU as the rest
/// of the mock pipeline.
/// - Each chunk's largest and smallest sample take no branches (so they compile to SIMD, even
///   for the baseline x86-64); samples at full scale are counted only in a chunk that has one.
/// - A chunk whose peak is below [`SILENT_PEAK`] is all silence.
/// - Silence inside a loud chunk (at most 62 frames) matters only until a longer run was seen,
///   early in any speech: until then the chunk's loud samples become a bit mask whose gaps
///   cost work per change between sound and silence, not per sample.
/// - A silence between loud chunks runs from the last loud sample of one to the first of the
///   next; those are looked for only when the run could be longer than the longest so far.
fn scan(samples: &[i16]) -> Scan {
    let (mut peak, mut full, mut longest) = (0u16, 0usize, 0u64);
    let is_loud = |s: &i16| s.unsigned_abs() >= SILENT_PEAK as u16;
    // The last loud chunk, with its quiet frames at the end when known; `None` before the
    // first sound. Then the frames of the quiet chunks since.
    let mut last_loud: Option<(&[i16], Option<u64>)> = None;
    let mut quiet_between = 0u64;
    for chunk in samples.chunks(64) {
        let (mut high, mut low) = (0i16, 0i16);
        for &s in chunk {
            high = high.max(s);
            low = low.min(s);
        }
        if high == i16::MAX || low == i16::MIN {
            full += chunk
                .iter()
                .filter(|&&s| s == i16::MAX || s == i16::MIN)
                .count();
        }
        let chunk_peak = high.unsigned_abs().max(low.unsigned_abs());
        peak = peak.max(chunk_peak);
        if chunk_peak < SILENT_PEAK as u16 {
            quiet_between += chunk.len() as u64;
            continue;
        }
        let end = chunk.len() as u64 - 1;
        // Quiet frames at the chunk's start and end, when the bit mask gives them for free.
        let (first, tail) = if longest < 62 {
            let loud = loud_mask(chunk);
            let first = loud.trailing_zeros();
            // The gaps between loud samples inside the chunk.
            let mut rest = loud >> first;
            loop {
                let ones = rest.trailing_ones();
                rest = rest.checked_shr(ones).unwrap_or(0);
                if rest == 0 {
                    break;
                }
                let zeros = rest.trailing_zeros();
                longest = longest.max(u64::from(zeros));
                rest >>= zeros;
            }
            let last = 63 - u64::from(loud.leading_zeros());
            (Some(u64::from(first)), Some(end - last))
        } else {
            (None, None)
        };
        if let Some((before, before_tail)) = last_loud {
            let before_end = before.len() as u64 - 1;
            let at_most = before_tail.unwrap_or(before_end) + quiet_between + first.unwrap_or(end);
            if at_most > longest {
                let before_tail = before_tail.unwrap_or_else(|| {
                    before_end - before.iter().rposition(is_loud).unwrap_or(0) as u64
                });
                let first =
                    first.unwrap_or_else(|| chunk.iter().position(is_loud).unwrap_or(0) as u64);
                longest = longest.max(before_tail + quiet_between + first);
            }
        }
        last_loud = Some((chunk, tail));
        quiet_between = 0;
    }
    Scan {
        peak,
        full,
        longest_inner_silence: longest,
    }
}

/// Bit `i` set when sample `i` of the chunk (at most 64) is at or above [`SILENT_PEAK`].
fn loud_mask(chunk: &[i16]) -> u64 {
    let mut flags = [0u8; 64];
    for (f, &s) in flags.iter_mut().zip(chunk) {
        *f = u8::from(s.unsigned_abs() >= SILENT_PEAK as u16);
    }
    // Eight 0/1 bytes become eight bits with one multiplication.
    let mut loud = 0u64;
    for (k, bytes) in flags.chunks_exact(8).enumerate() {
        let v = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        loud |= (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    loud
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f64, amplitude: i16) -> Vec<i16> {
        (0..(seconds * 8000.0) as usize)
            .map(|i| ((i as f64 * 0.2).sin() * f64::from(amplitude)) as i16)
            .collect()
    }

    const TEXT: &str = "Thirty characters of plain text"; // 27 non-space characters

    #[test]
    fn a_normal_unit_passes_and_is_measured() {
        let a = Audio::new(8000, tone(2.0, 8000));
        let c = check(&a, TEXT, Expectation::other());
        assert_eq!(c.problem, None, "{c:?}");
        assert_eq!(c.chars_per_second, 13.5);
        assert!(c.peak > 7000);
    }

    #[test]
    fn silence_clipping_missing_text_and_long_pauses_fail() {
        let silent = Audio::new(8000, vec![3; 16000]);
        assert!(
            check(&silent, TEXT, Expectation::other())
                .problem
                .unwrap()
                .contains("silent")
        );
        let clipped = Audio::new(
            8000,
            tone(2.0, i16::MAX)
                .iter()
                .map(|s| s.saturating_mul(4))
                .collect(),
        );
        assert!(
            check(&clipped, TEXT, Expectation::other())
                .problem
                .unwrap()
                .contains("clipped")
        );
        let short = Audio::new(8000, tone(0.2, 8000));
        assert!(
            check(&short, TEXT, Expectation::other())
                .problem
                .unwrap()
                .contains("text is missing")
        );
        let long = Audio::new(8000, tone(30.0, 8000));
        assert!(
            check(&long, TEXT, Expectation::other())
                .problem
                .unwrap()
                .contains("too long")
        );
        let mut gap = tone(1.0, 8000);
        gap.extend(vec![0; 8000 * 4]);
        gap.extend(tone(1.0, 8000));
        let c = check(&Audio::new(8000, gap), "x", Expectation::other());
        assert!(c.problem.unwrap().contains("silence"));
        assert_eq!(c.longest_silence_ms, 4000);
    }

    use proptest::prelude::Just;

    /// The four measurements, one obvious pass each.
    fn reference(samples: &[i16]) -> Scan {
        let loud = |s: &i16| s.unsigned_abs() >= SILENT_PEAK as u16;
        let mut longest = 0;
        if let (Some(first), Some(last)) = (
            samples.iter().position(loud),
            samples.iter().rposition(loud),
        ) {
            let mut run = 0;
            for s in &samples[first..=last] {
                run = if loud(s) { 0 } else { run + 1 };
                longest = longest.max(run);
            }
        }
        Scan {
            peak: samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0),
            full: samples
                .iter()
                .filter(|&&s| s == i16::MAX || s == i16::MIN)
                .count(),
            longest_inner_silence: longest,
        }
    }

    proptest::proptest! {
        /// Runs of loud and quiet samples of any lengths, across and inside 64-sample chunks.
        #[test]
        fn the_one_pass_scan_measures_what_the_obvious_passes_do(
            runs in proptest::collection::vec(
                (0usize..150, proptest::prop_oneof![
                    Just(0i16), Just(99), Just(-99), Just(100), Just(-100),
                    Just(i16::MAX), Just(i16::MIN), Just(-32767), -300i16..300
                ]),
                0..40,
            )
        ) {
            let samples: Vec<i16> = runs
                .iter()
                .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
                .collect();
            proptest::prop_assert_eq!(scan(&samples), reference(&samples));
        }
    }

    #[test]
    fn short_units_are_not_held_to_the_rate() {
        let a = Audio::new(8000, tone(3.0, 8000));
        assert_eq!(check(&a, "Iraq.", Expectation::other()).problem, None);
    }
}
