//! The mock backend: exact, fast, deterministic audio with no engine at all.
//!
//! A unit becomes a sine tone whose length follows the text (`ms_per_char` milliseconds per
//! character) and whose pitch follows a hash of the text, so different paragraphs are
//! distinguishable by ear and by analysis, and the same text always gives the same samples.
//!
//! Test aids (documented in `aloud convert --help`): `latency` simulates a slow engine;
//! `fail_on` a failing one (any unit containing the marker word fails, every time);
//! `fail_every` and `fail_percent` a flaky one (every Nth call, or a pseudo-random share of
//! calls, fails; a retry usually succeeds).

use super::{EngineInfo, Request, SynthError, Synthesizer};
use crate::audio::Audio;
use std::time::Duration;

const NAME: &str = "mock";

/// Settings for [`Mock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockSettings {
    /// Milliseconds of audio per character of text.
    pub ms_per_char: u32,
    /// Time each call takes before returning, to simulate a slow engine.
    pub latency: Duration,
    /// Fail every unit whose text contains this word.
    pub fail_on: Option<String>,
    /// Fail every Nth call (counted over the whole run).
    pub fail_every: Option<u64>,
    /// Fail this percentage of calls, pseudo-randomly.
    pub fail_percent: Option<u32>,
    /// Output sample rate.
    pub sample_rate: u32,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            ms_per_char: 60,
            latency: Duration::ZERO,
            fail_on: None,
            fail_every: None,
            fail_percent: None,
            sample_rate: 22050,
        }
    }
}

/// The in-process mock synthesizer.
pub struct Mock {
    settings: MockSettings,
    calls: std::sync::atomic::AtomicU64,
}

impl Mock {
    /// Creates the mock backend.
    pub fn new(settings: MockSettings) -> Self {
        Mock {
            settings,
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Frames the mock produces for `text`: at least one.
    pub fn frames_for(&self, text: &str) -> u64 {
        let chars = text.chars().count() as u64;
        let ms = chars * u64::from(self.settings.ms_per_char);
        crate::audio::ms_to_frames(ms, self.settings.sample_rate).max(1)
    }

    /// The tone's period in samples for `text`: 40–100 samples, i.e. 220–551 Hz at 22.05 kHz.
    pub fn period_for(text: &str) -> usize {
        40 + (fnv1a(text.as_bytes()) % 61) as usize
    }
}

impl Synthesizer for Mock {
    fn name(&self) -> &str {
        NAME
    }

    fn check(&self) -> Result<EngineInfo, SynthError> {
        let s = &self.settings;
        // Only what shapes the sound: latency and fault injection do not change the audio.
        let settings = vec![("ms_per_char".to_string(), s.ms_per_char.to_string())];
        Ok(EngineInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sample_rate: s.sample_rate,
            settings,
            language: None,
        })
    }

    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError> {
        if !self.settings.latency.is_zero() {
            std::thread::sleep(self.settings.latency);
        }
        let call = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let fail = |why: String| {
            Err(SynthError::Failed {
                engine: NAME.into(),
                status: "simulated failure".into(),
                stderr: format!("mock: {why}"),
            })
        };
        if let Some(word) = &self.settings.fail_on
            && request.text.contains(word.as_str())
        {
            return fail(format!("the text contains the marker word '{word}'"));
        }
        if let Some(n) = self.settings.fail_every
            && n > 0
            && call.is_multiple_of(n)
        {
            return fail(format!("call {call} failed (it fails every {n}th call)"));
        }
        if let Some(percent) = self.settings.fail_percent
            && fnv1a(&call.to_le_bytes()) % 100 < u64::from(percent)
        {
            return fail(format!("call {call} failed (it fails {percent}% of calls)"));
        }
        let frames = self.frames_for(request.text) as usize;
        let period = Mock::period_for(request.text);
        let table: Vec<i16> = (0..period)
            .map(|i| {
                let phase = std::f64::consts::TAU * i as f64 / period as f64;
                (phase.sin() * 8000.0).round() as i16
            })
            .collect();
        let mut samples = Vec::with_capacity(frames);
        while samples.len() + period <= frames {
            samples.extend_from_slice(&table);
        }
        samples.extend_from_slice(&table[..frames - samples.len()]);
        Ok(Audio::new(self.settings.sample_rate, samples))
    }
}

/// FNV-1a, 64-bit: a stable hash that does not depend on the Rust version.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_follows_the_text_and_pitch_follows_its_hash() {
        let m = Mock::new(MockSettings::default());
        let a = m.synthesize(&Request { text: "hello" }).unwrap();
        assert_eq!(a.frames(), 5 * 60 * 22050 / 1000);
        assert_eq!(a.frames(), m.frames_for("hello"));
        let again = m.synthesize(&Request { text: "hello" }).unwrap();
        assert_eq!(a, again);
        // Zero crossings upward happen once per period.
        let period = Mock::period_for("hello");
        let ups = a
            .samples
            .windows(2)
            .filter(|w| w[0] < 0 && w[1] >= 0)
            .count();
        assert_eq!(ups, (a.samples.len() - 1) / period);
        assert_ne!(Mock::period_for("hello"), Mock::period_for("world"));
    }

    #[test]
    fn flaky_settings_fail_some_calls() {
        let m = Mock::new(MockSettings {
            fail_every: Some(3),
            ..MockSettings::default()
        });
        let results: Vec<bool> = (0..6)
            .map(|_| m.synthesize(&Request { text: "x" }).is_ok())
            .collect();
        assert_eq!(results, [true, true, false, true, true, false]);
        let m = Mock::new(MockSettings {
            fail_percent: Some(20),
            ..MockSettings::default()
        });
        let failed = (0..1000)
            .filter(|_| m.synthesize(&Request { text: "x" }).is_err())
            .count();
        assert!((120..280).contains(&failed), "{failed}");
    }

    #[test]
    fn the_marker_word_fails() {
        let m = Mock::new(MockSettings {
            fail_on: Some("BOOM".into()),
            ..MockSettings::default()
        });
        let err = m
            .synthesize(&Request {
                text: "it goes BOOM here",
            })
            .unwrap_err();
        assert!(err.to_string().contains("marker word 'BOOM'"), "{err}");
        assert!(m.synthesize(&Request { text: "quiet" }).is_ok());
    }
}
