//! Sample-rate conversion for engines whose rate differs from the article's.
//!
//! A proper band-limited resampler (rubato's synchronous FFT resampler), never dropping or
//! repeating samples. The result has exactly `round(frames × to / from)` frames, so positions
//! stay exact to the frame when converted the same way, and timing marks are moved with the
//! same rounding. Deterministic: the same input gives the same output.

use super::{Audio, Mark, scale};
use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Converts `audio` to `to` frames per second (a no-op when it is already there).
pub fn resample(audio: Audio, to: u32) -> Result<Audio, String> {
    let from = audio.sample_rate;
    if from == to {
        return Ok(audio);
    }
    let frames = audio.samples.len();
    let target = scale(frames as u64, from, to) as usize;
    let input: Vec<f32> = audio
        .samples
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| format!("cannot resample from {from} Hz to {to} Hz: {e}"))?;
    let buffer = InterleavedSlice::new(&input, 1, frames).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&buffer, frames, None)
        .map_err(|e| format!("resampling from {from} Hz to {to} Hz failed: {e}"))?;
    let mut samples: Vec<i16> = out
        .take_data()
        .into_iter()
        .map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    samples.resize(target.max(1), 0);
    let marks = audio
        .marks
        .into_iter()
        .map(|m| Mark {
            frame: scale(m.frame, from, to).min(target as u64),
            ..m
        })
        .collect();
    Ok(Audio {
        sample_rate: to,
        samples,
        marks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, frames: usize) -> Audio {
        Audio::new(
            rate,
            (0..frames)
                .map(|i| {
                    ((i as f64 * hz * std::f64::consts::TAU / f64::from(rate)).sin() * 10000.0)
                        as i16
                })
                .collect(),
        )
    }

    /// Upward zero crossings per second: the tone's frequency survives resampling.
    fn frequency(a: &Audio) -> f64 {
        let ups = a
            .samples
            .windows(2)
            .filter(|w| w[0] < 0 && w[1] >= 0)
            .count();
        ups as f64 * f64::from(a.sample_rate) / a.samples.len() as f64
    }

    #[test]
    fn length_is_exact_and_pitch_is_kept() {
        let a = tone(16000, 440.0, 16000);
        let b = resample(a.clone(), 24000).unwrap();
        assert_eq!(b.sample_rate, 24000);
        assert_eq!(b.samples.len(), 24000);
        assert!((frequency(&b) - 440.0).abs() < 3.0, "{}", frequency(&b));
        let c = resample(a, 22050).unwrap();
        assert_eq!(c.samples.len(), 22050);
        assert!((frequency(&c) - 440.0).abs() < 3.0);
    }

    #[test]
    fn marks_move_with_the_audio_and_same_rate_is_untouched() {
        let mut a = tone(16000, 200.0, 8000);
        a.marks.push(Mark {
            kind: crate::audio::MarkKind::Word,
            frame: 4000,
            text: 0..3,
        });
        let b = resample(a.clone(), 48000).unwrap();
        assert_eq!(b.marks[0].frame, 12000);
        assert_eq!(resample(a.clone(), 16000).unwrap(), a);
    }

    #[test]
    fn deterministic_and_short_input_survives() {
        let a = tone(22050, 300.0, 3);
        assert_eq!(
            resample(a.clone(), 44100).unwrap(),
            resample(a, 44100).unwrap()
        );
        assert_eq!(scale(3, 22050, 44100), 6);
    }
}
