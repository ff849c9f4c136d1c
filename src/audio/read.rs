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
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        _ => return Err(ReadError::Missing),
    }
    let file = std::fs::File::open(path).map_err(|e| ReadError::Invalid(e.to_string()))?;
    read_wav(std::io::BufReader::new(file))
}

/// Reads a WAV from any reader (a finished file, or bytes received from a server).
pub fn read_wav<R: std::io::Read>(r: R) -> Result<Audio, ReadError> {
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
    if interleaved.len() % channels != 0 {
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
    Ok(Audio {
        sample_rate: spec.sample_rate,
        samples,
    })
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
        let a = read_wav(Cursor::new(b)).unwrap();
        assert_eq!(
            a,
            Audio {
                sample_rate: 16000,
                samples: vec![200, -100]
            }
        );
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
        assert_eq!(
            read_wav(Cursor::new(b)).unwrap().samples,
            vec![16384, -32767]
        );
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let b = wav(spec, |w| w.write_sample(0x12_3456i32).unwrap());
        assert_eq!(read_wav(Cursor::new(b)).unwrap().samples, vec![0x1234]);
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
        assert!(matches!(read_wav(Cursor::new(b)), Err(ReadError::Empty)));
        assert!(matches!(
            read_wav(Cursor::new(b"not a wav".to_vec())),
            Err(ReadError::Invalid(_))
        ));
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
