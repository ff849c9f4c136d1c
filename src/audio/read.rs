//! Reading an engine's finished WAV file into [`Audio`].
//!
//! Engines exit 0 on failures (no file, an empty file, a header that lies), so nothing is
//! trusted: the file must exist, parse, and hold at least one frame. Integer PCM of 8 to 32 bits
//! and 32-bit float are converted to 16-bit; several channels are averaged to mono. Sample-rate
//! conversion is not done here.

use super::Audio;
use std::path::Path;

/// Why an engine's output is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No file, or a file of zero bytes: the engine wrote nothing.
    #[error("it wrote no audio file")]
    Missing,
    /// The file parses but holds no frames.
    #[error("it wrote a WAV file with no audio in it")]
    Empty,
    /// The file is not a WAV we can read.
    #[error("it wrote an unreadable WAV file: {0}")]
    Invalid(String),
}

/// Reads a finished WAV file written by an engine.
pub fn read_wav_file(path: &Path) -> Result<Audio, ReadError> {
    match std::fs::read(path) {
        Ok(bytes) => read_wav_bytes(&bytes),
        Err(_) => Err(ReadError::Missing),
    }
}

/// Reads a WAV held in memory (a finished file, or bytes received from a server). No bytes
/// at all is [`ReadError::Missing`]: the engine wrote nothing.
///
/// 16-bit PCM, what nearly every engine writes, is decoded directly from the bytes; every
/// other format goes through hound.
pub fn read_wav_bytes(bytes: &[u8]) -> Result<Audio, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Missing);
    }
    match pcm16(bytes)? {
        Some(audio) => Ok(audio),
        None => read_with_hound(std::io::Cursor::new(bytes)),
    }
}

/// The 16-bit PCM fast path: `Ok(None)` when the file is some other format.
fn pcm16(bytes: &[u8]) -> Result<Option<Audio>, ReadError> {
    let invalid = |m: &str| ReadError::Invalid(m.to_string());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(invalid("not a RIFF/WAVE file"));
    }
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        match id {
            b"fmt " => {
                if size < 16 || body + 16 > bytes.len() {
                    return Err(invalid("truncated 'fmt ' chunk"));
                }
                let f = &bytes[body..body + 16];
                format = Some((
                    u16::from_le_bytes([f[0], f[1]]),
                    u16::from_le_bytes([f[2], f[3]]),
                    u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                    u16::from_le_bytes([f[14], f[15]]),
                ));
            }
            b"data" => {
                let Some((tag, channels, sample_rate, bits)) = format else {
                    return Err(invalid("'data' before 'fmt '"));
                };
                if tag != 1 || bits != 16 {
                    return Ok(None);
                }
                if channels == 0 || sample_rate == 0 {
                    return Err(ReadError::Invalid(format!(
                        "{channels} channels at {sample_rate} Hz"
                    )));
                }
                // A size past the end is a header that lies (e.g. a streamed placeholder).
                if body + size > bytes.len() {
                    return Err(ReadError::Invalid(format!(
                        "the data chunk claims {size} bytes but only {} follow",
                        bytes.len() - body
                    )));
                }
                let channels = usize::from(channels);
                if !size.is_multiple_of(2 * channels) {
                    return Err(invalid("truncated in the middle of a frame"));
                }
                let data = &bytes[body..body + size];
                let samples: Vec<i16> = if channels == 1 {
                    data.chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect()
                } else {
                    data.chunks_exact(2 * channels)
                        .map(|f| {
                            let sum: i32 = f
                                .chunks_exact(2)
                                .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                                .sum();
                            clamp16(sum / channels as i32)
                        })
                        .collect()
                };
                if samples.is_empty() {
                    return Err(ReadError::Empty);
                }
                return Ok(Some(Audio::new(sample_rate, samples)));
            }
            _ => {}
        }
        pos = body + size + size % 2;
    }
    Err(invalid("no 'data' chunk"))
}

fn read_with_hound<R: std::io::Read>(r: R) -> Result<Audio, ReadError> {
    let reader = hound::WavReader::new(r).map_err(|e| ReadError::Invalid(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(ReadError::Invalid(format!(
            "{} channels at {} Hz",
            spec.channels, spec.sample_rate
        )));
    }
    let channels = usize::from(spec.channels);
    let interleaved: Vec<i32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let shift = i32::from(bits) - 16;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| if shift >= 0 { v >> shift } else { v << -shift }))
                .collect::<Result<_, _>>()
                .map_err(|e| ReadError::Invalid(e.to_string()))?
        }
        (hound::SampleFormat::Float, 32) => reader
            .into_samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0).round() as i32))
            .collect::<Result<_, _>>()
            .map_err(|e| ReadError::Invalid(e.to_string()))?,
        (format, bits) => {
            return Err(ReadError::Invalid(format!(
                "unsupported sample format {format:?} with {bits} bits"
            )));
        }
    };
    if !interleaved.len().is_multiple_of(channels) {
        return Err(ReadError::Invalid(
            "truncated in the middle of a frame".into(),
        ));
    }
    let samples: Vec<i16> = if channels == 1 {
        interleaved.into_iter().map(clamp16).collect()
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|f| clamp16(f.iter().sum::<i32>() / channels as i32))
            .collect()
    };
    if samples.is_empty() {
        return Err(ReadError::Empty);
    }
    Ok(Audio::new(spec.sample_rate, samples))
}

fn clamp16(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav(
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
        write(&mut w);
        w.finalize().unwrap();
        c.into_inner()
    }

    #[test]
    fn stereo_is_averaged_to_mono() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let b = wav(spec, |w| {
            for s in [100i16, 300, -50, -150] {
                w.write_sample(s).unwrap();
            }
        });
        let a = read_wav_bytes(&b).unwrap();
        assert_eq!(a, Audio::new(16000, vec![200, -100]));
    }

    #[test]
    fn float_and_24_bit_become_16_bit() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let b = wav(spec, |w| {
            w.write_sample(0.5f32).unwrap();
            w.write_sample(-2.0f32).unwrap();
        });
        assert_eq!(read_wav_bytes(&b).unwrap().samples, vec![16384, -32767]);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let b = wav(spec, |w| w.write_sample(0x12_3456i32).unwrap());
        assert_eq!(read_wav_bytes(&b).unwrap().samples, vec![0x1234]);
    }

    #[test]
    fn zero_frames_is_empty_and_garbage_is_invalid() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let b = wav(spec, |_| {});
        assert!(matches!(read_wav_bytes(&b), Err(ReadError::Empty)));
        assert!(matches!(
            read_wav_bytes(b"not a wav"),
            Err(ReadError::Invalid(_))
        ));
    }

    #[test]
    fn a_header_that_lies_about_its_length_is_invalid() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut b = wav(spec, |w| w.write_sample(1i16).unwrap());
        // What `espeak-ng --stdout` writes: placeholder sizes.
        b[40..44].copy_from_slice(&0x7FFF_F000u32.to_le_bytes());
        let err = read_wav_bytes(&b).unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
    }

    #[test]
    fn missing_and_zero_byte_files_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.wav");
        assert!(matches!(read_wav_file(&p), Err(ReadError::Missing)));
        std::fs::write(&p, b"").unwrap();
        assert!(matches!(read_wav_file(&p), Err(ReadError::Missing)));
    }
}
