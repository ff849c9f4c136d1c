//! The only `unsafe` code in aloud: libespeak-ng's C API, loaded at run time, and `fork`.
//!
//! The library is opened with `dlopen` (through `libloading`) when a synthesis worker starts,
//! never at build time: building aloud needs no C headers and no C toolchain step, and aloud
//! still runs where the library is missing (the caller falls back to the `espeak-ng` program).
//! The handful of declarations below are copied by hand from espeak-ng 1.51's
//! `speak_lib.h` and `espeak_ng.h` for x86-64 and AArch64 Linux (LP64); the layout of
//! `espeak_EVENT` is checked at compile time.
//!
//! Safe API, and what it guarantees:
//! - [`Engine::load`] opens and initialises the library at most once per process (it keeps
//!   global state), exactly as the `espeak-ng` program does: `espeak_ng_InitializePath(NULL)`,
//!   `espeak_ng_Initialize`, `espeak_ng_InitializeOutput(SYNCHRONOUS, 0, NULL)`.
//! - [`Engine::synthesize`] runs `espeak_Synth` in synchronous mode with the same flags as the
//!   program's `-b 1 --stdin` (UTF-8, `[[phonemes]]`, final pause); a callback hands each
//!   buffer of samples on as it comes and collects the word, sentence and end events (with the
//!   engine's own sample positions).
//! - [`Engine::in_fresh_copy`] runs a closure in a forked copy of the process and reports how
//!   the copy ended. The library carries state from one text to the next (pitch flutter phase,
//!   gain control, ...), so the second text spoken by a process does not sound exactly like the
//!   same text spoken by a fresh `espeak-ng`; speaking each text in a fresh copy of an
//!   initialised process gives identical audio for every text, whatever was spoken before.
//!   Forking is only sound when no other thread can hold a lock the copy needs, so it is
//!   refused unless the process had one thread before the library was loaded and has no more
//!   now than right after: the only other thread is then the one espeak-ng's initialisation
//!   starts for its asynchronous mode, which in synchronous mode only ever waits on its own
//!   condition variable (glibc itself keeps `malloc` and stdio usable in the copy).
//! - The worker loads no playback library. libespeak-ng links libpcaudio for its playback
//!   modes; libpcaudio and what it brings (PulseAudio, ALSA, X11 and more) are 29 libraries
//!   and 150 of a worker's 202 memory mappings, which every fork copies and every copy's exit
//!   tears down again (about 0.1 ms per unit on the benchmark machine). The aloud executable
//!   is linked (`build.rs`) with the name `libpcaudio.so.0` and exports the eight functions
//!   of `no_audio_device` below, so the dynamic loader takes aloud itself for that
//!   dependency and loads nothing else. Synchronous mode never plays: espeak-ng asks once
//!   for a device, gets none, and never calls the other seven. Unit tests load the library
//!   into the test program, which is not so linked, and so get the real libpcaudio; the
//!   audio is the same.

use std::cell::RefCell;
use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_short, c_uint, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

// speak_lib.h / espeak_ng.h constants.
const ENOUTPUT_MODE_SYNCHRONOUS: c_int = 0x0001;
const ENS_OK: c_int = 0;
/// The length of the engine's output buffer, in milliseconds of audio: 1,485 ms is 65,488
/// bytes at 22,050 Hz, so each buffer goes to aloud as one frame that fits, header included,
/// in a pipe's 64 KiB. (espeak-ng's own default, 200 ms, would make seven times as many
/// writes.) The audio and its events do not depend on it.
const BUFFER_MS: c_int = 1485;
const EE_OK: c_int = 0;
const POS_CHARACTER: c_int = 1;
const ESPEAK_CHARS_UTF8: c_uint = 1;
const ESPEAK_PHONEMES: c_uint = 0x100;
const ESPEAK_ENDPAUSE: c_uint = 0x1000;
const ESPEAK_RATE: c_int = 1;
const ESPEAK_VOLUME: c_int = 2;
const ESPEAK_PITCH: c_int = 3;

/// `espeak_EVENT` (speak_lib.h, API revision 12).
#[repr(C)]
struct RawEvent {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: RawEventId,
}

#[repr(C)]
#[derive(Clone, Copy)]
union RawEventId {
    number: c_int,
    name: *const c_char,
    string: [c_char; 8],
}

const _: () = {
    assert!(std::mem::size_of::<RawEvent>() == 40);
    assert!(std::mem::offset_of!(RawEvent, text_position) == 8);
    assert!(std::mem::offset_of!(RawEvent, sample) == 20);
    assert!(std::mem::offset_of!(RawEvent, user_data) == 24);
    assert!(std::mem::offset_of!(RawEvent, id) == 32);
};

/// `espeak_VOICE`, used only to select a voice by language like the program does.
#[repr(C)]
struct RawVoice {
    name: *const c_char,
    languages: *const c_char,
    identifier: *const c_char,
    gender: u8,
    age: u8,
    variant: u8,
    xx1: u8,
    score: c_int,
    spare: *mut c_void,
}

type SynthCallback = unsafe extern "C" fn(*mut c_short, c_int, *mut RawEvent) -> c_int;

/// The functions used, resolved once.
struct Api {
    initialize_path: unsafe extern "C" fn(*const c_char),
    initialize: unsafe extern "C" fn(*mut *mut c_void) -> c_int,
    initialize_output: unsafe extern "C" fn(c_int, c_int, *const c_char) -> c_int,
    get_sample_rate: unsafe extern "C" fn() -> c_int,
    status_message: unsafe extern "C" fn(c_int, *mut c_char, usize),
    clear_error_context: unsafe extern "C" fn(*mut *mut c_void),
    info: unsafe extern "C" fn(*mut *const c_char) -> *const c_char,
    set_synth_callback: unsafe extern "C" fn(Option<SynthCallback>),
    set_voice_by_name: unsafe extern "C" fn(*const c_char) -> c_int,
    set_voice_by_properties: unsafe extern "C" fn(*mut RawVoice) -> c_int,
    set_parameter: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    synth: unsafe extern "C" fn(
        *const c_void,
        usize,
        c_uint,
        c_int,
        c_uint,
        c_uint,
        *mut c_uint,
        *mut c_void,
    ) -> c_int,
    synchronize: unsafe extern "C" fn() -> c_int,
}

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A word starts.
    Word,
    /// A sentence starts.
    Sentence,
    /// A sentence or clause ends.
    End,
}

/// One event, as the engine reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// 1-based position in characters (Unicode scalar values) of the text.
    pub text_position: u32,
    /// Length in characters (words only; 0 when the engine does not say).
    pub length: u32,
    /// The engine's sample position of the event from the start of this text.
    pub sample: u64,
    /// Samples delivered before the callback buffer that carried the event, and after it:
    /// the event lies in between.
    pub buffer: (u64, u64),
}

/// What the callback gathers during one text.
struct Collecting {
    /// Samples handed on so far.
    samples: u64,
    /// Word, sentence and end events in order.
    events: Vec<Event>,
    /// Where samples go: a `&mut dyn FnMut(&[i16])` that outlives the `espeak_Synth` call.
    sink: *mut (dyn FnMut(&[i16]) + 'static),
}

/// Why the library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The shared library (or one of its functions) is not there.
    #[error("{0}")]
    Missing(String),
    /// It is there but did not initialise (its data files are missing, say).
    #[error("{0}")]
    Init(String),
    /// This process has already loaded it; the library keeps global state.
    #[error("libespeak-ng is already loaded in this process")]
    AlreadyLoaded,
}

static LOADED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Where the callback puts what it is given during one `espeak_Synth` call.
    static COLLECTED: RefCell<Option<Collecting>> = const { RefCell::new(None) };
}

/// libespeak-ng, loaded and initialised; one per process.
pub struct Engine {
    api: Api,
    sample_rate: u32,
    version: String,
    /// Threads before loading (must be 1 for forking) and right after.
    threads: (usize, usize),
    _library: libloading::Library,
    /// Not `Send`: the library's state belongs to the thread that loaded it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.version)
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

impl Engine {
    /// Opens `library` (a file name looked up like `dlopen` does, or a path) and initialises
    /// it the way the `espeak-ng` program does.
    pub fn load(library: &OsStr) -> Result<Engine, LoadError> {
        if LOADED.swap(true, Ordering::SeqCst) {
            return Err(LoadError::AlreadyLoaded);
        }
        let before = thread_count().unwrap_or(usize::MAX);
        let result = Engine::open(library).map(|mut e| {
            e.threads = (before, thread_count().unwrap_or(usize::MAX));
            e
        });
        if result.is_err() {
            LOADED.store(false, Ordering::SeqCst);
        }
        result
    }

    fn open(library: &OsStr) -> Result<Engine, LoadError> {
        let name = library.to_string_lossy().into_owned();
        // RTLD_NOW binds every symbol the library uses here, once: bound lazily, each forked
        // copy would look its symbols up again (and fault in the pages it writes them to).
        // RTLD_NODELETE keeps it mapped when the engine is dropped: the library starts a thread
        // of its own that nothing stops, and unmapping the code and data that thread waits in
        // aborts the process ("The futex facility returned an unexpected error code", seen
        // once in a unit-test run, which drops the engine while other tests go on).
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
        // SAFETY: loading runs the library's initialisers; libespeak-ng's (and its
        // dependencies') are ordinary C constructors with no preconditions.
        let lib: libloading::Library =
            unsafe { Library::open(Some(library), RTLD_NOW | RTLD_LOCAL | libc::RTLD_NODELETE) }
                .map_err(|e| LoadError::Missing(format!("cannot load {name}: {e}")))?
                .into();
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the type is the function's C signature from espeak-ng 1.51's
                // headers; the pointer is copied out and used only while `lib` is loaded
                // (it lives in the same `Engine`).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| {
                    LoadError::Missing(format!("{name} has no function {}: {e}", $name))
                })?
            };
        }
        let api = Api {
            initialize_path: sym!("espeak_ng_InitializePath"),
            initialize: sym!("espeak_ng_Initialize"),
            initialize_output: sym!("espeak_ng_InitializeOutput"),
            get_sample_rate: sym!("espeak_ng_GetSampleRate"),
            status_message: sym!("espeak_ng_GetStatusCodeMessage"),
            clear_error_context: sym!("espeak_ng_ClearErrorContext"),
            info: sym!("espeak_Info"),
            set_synth_callback: sym!("espeak_SetSynthCallback"),
            set_voice_by_name: sym!("espeak_SetVoiceByName"),
            set_voice_by_properties: sym!("espeak_SetVoiceByProperties"),
            set_parameter: sym!("espeak_SetParameter"),
            synth: sym!("espeak_Synth"),
            synchronize: sym!("espeak_Synchronize"),
        };
        // SAFETY: the calls and their order are those of espeak-ng's own program (and of
        // espeak_Initialize): a NULL path means the built-in data folder; the error context is
        // an out-pointer we clear after use; output mode SYNCHRONOUS opens no audio device
        // and starts no thread.
        unsafe {
            (api.initialize_path)(std::ptr::null());
            let mut context: *mut c_void = std::ptr::null_mut();
            let status = (api.initialize)(&mut context);
            (api.clear_error_context)(&mut context);
            if status != ENS_OK {
                return Err(LoadError::Init(format!(
                    "{name} could not initialise: {}",
                    status_message(&api, status)
                )));
            }
            let status =
                (api.initialize_output)(ENOUTPUT_MODE_SYNCHRONOUS, BUFFER_MS, std::ptr::null());
            if status != ENS_OK {
                return Err(LoadError::Init(format!(
                    "{name} could not set up its output: {}",
                    status_message(&api, status)
                )));
            }
            (api.set_synth_callback)(Some(on_synth));
        }
        // The first use of a thread-local with a destructor registers it, through a symbol
        // libc binds lazily: done once here, not again in every forked copy.
        COLLECTED.with(|_| {});
        // SAFETY: no preconditions once initialised.
        let rate = unsafe { (api.get_sample_rate)() };
        let sample_rate = u32::try_from(rate)
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| LoadError::Init(format!("{name} reports a sample rate of {rate}")))?;
        // SAFETY: espeak_Info accepts NULL for the data path and returns a static string.
        let version = unsafe {
            let v = (api.info)(std::ptr::null_mut());
            if v.is_null() {
                "unknown".to_string()
            } else {
                CStr::from_ptr(v).to_string_lossy().into_owned()
            }
        };
        Ok(Engine {
            api,
            sample_rate,
            version,
            threads: (usize::MAX, usize::MAX),
            _library: lib,
            _not_send: std::marker::PhantomData,
        })
    }

    /// The rate every text comes back at.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The library's version, e.g. `1.51`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Selects a voice by name (`en-us`, `en-us+f3`), else by language, as the program's `-v`
    /// does.
    pub fn set_voice(&mut self, name: &str) -> Result<(), String> {
        let c = CString::new(name).map_err(|_| format!("{name:?} is not a voice name"))?;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of each call; the
        // voice selector is zeroed but for its language, as espeak-ng's program does.
        let ok = unsafe {
            (self.api.set_voice_by_name)(c.as_ptr()) == EE_OK || {
                let mut select = RawVoice {
                    name: std::ptr::null(),
                    languages: c.as_ptr(),
                    identifier: std::ptr::null(),
                    gender: 0,
                    age: 0,
                    variant: 0,
                    xx1: 0,
                    score: 0,
                    spare: std::ptr::null_mut(),
                };
                (self.api.set_voice_by_properties)(&mut select) == EE_OK
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("voice does not exist: {name:?}"))
        }
    }

    /// Sets the speaking rate in words per minute.
    pub fn set_rate(&mut self, wpm: u32) -> Result<(), String> {
        self.set_parameter(ESPEAK_RATE, wpm, "rate")
    }

    /// Sets the amplitude (0–200; 100 is normal), as the program's `-a`.
    pub fn set_volume(&mut self, volume: u32) -> Result<(), String> {
        self.set_parameter(ESPEAK_VOLUME, volume, "volume")
    }

    /// Sets the pitch (0–99).
    pub fn set_pitch(&mut self, pitch: u32) -> Result<(), String> {
        self.set_parameter(ESPEAK_PITCH, pitch, "pitch")
    }

    fn set_parameter(&mut self, parameter: c_int, value: u32, what: &str) -> Result<(), String> {
        let v = c_int::try_from(value).map_err(|_| format!("{what} {value} is out of range"))?;
        // SAFETY: plain integers; absolute (not relative) value.
        let status = unsafe { (self.api.set_parameter)(parameter, v, 0) };
        if status == EE_OK {
            Ok(())
        } else {
            Err(format!("cannot set the {what} to {value} (error {status})"))
        }
    }

    /// Speaks `text` (UTF-8) with the current voice and parameters, handing each buffer of
    /// samples to `sink` as it comes; returns the events (word, sentence, end) in order.
    pub fn synthesize(
        &mut self,
        text: &str,
        sink: &mut dyn FnMut(&[i16]),
    ) -> Result<Vec<Event>, String> {
        let c = CString::new(text).map_err(|_| "the text contains a NUL character".to_string())?;
        let bytes = c.as_bytes_with_nul();
        // SAFETY: only the lifetime is erased; the pointer is dropped from COLLECTED before
        // this function returns, so it is never used after `sink`'s borrow ends.
        let sink: *mut (dyn FnMut(&[i16]) + 'static) = unsafe { std::mem::transmute(sink) };
        COLLECTED.with_borrow_mut(|c| {
            *c = Some(Collecting {
                samples: 0,
                events: Vec::new(),
                sink,
            })
        });
        // SAFETY: `c` outlives the call; in synchronous mode espeak_Synth returns only once
        // the whole text is spoken, and the callback runs on this thread meanwhile. Flags are
        // those of `espeak-ng -b 1`: UTF-8, phoneme input, final pause.
        let status = unsafe {
            let s = (self.api.synth)(
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                POS_CHARACTER,
                0,
                ESPEAK_CHARS_UTF8 | ESPEAK_PHONEMES | ESPEAK_ENDPAUSE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            if s == EE_OK {
                (self.api.synchronize)()
            } else {
                s
            }
        };
        let collected = COLLECTED.with_borrow_mut(Option::take);
        if status != EE_OK {
            return Err(format!(
                "espeak_Synth failed: {}",
                status_message(&self.api, status)
            ));
        }
        Ok(collected.map(|c| c.events).unwrap_or_default())
    }
}

fn status_message(api: &Api, status: c_int) -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: the function writes at most `len` bytes, NUL-terminated, into `buf`.
    unsafe {
        (api.status_message)(status, buf.as_mut_ptr(), buf.len());
        buf[buf.len() - 1] = 0;
        let msg = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        if msg.is_empty() {
            format!("error {status:#x}")
        } else {
            msg
        }
    }
}

/// The synthesis callback: hands the buffer's samples to the sink in [`COLLECTED`] and keeps
/// the events.
/// Returns 0 to go on; 1 (stop) only if collecting panicked.
unsafe extern "C" fn on_synth(
    wav: *mut c_short,
    numsamples: c_int,
    events: *mut RawEvent,
) -> c_int {
    let run = || {
        COLLECTED.with_borrow_mut(|slot| {
            let Some(out) = slot else { return };
            let before = out.samples;
            if !wav.is_null() && numsamples > 0 {
                // SAFETY: espeak passes `numsamples` valid samples at `wav` for this call; the
                // sink is alive for the whole espeak_Synth call (see `synthesize`).
                let samples = unsafe { std::slice::from_raw_parts(wav, numsamples as usize) };
                unsafe { (*out.sink)(samples) };
                out.samples += samples.len() as u64;
            }
            let after = out.samples;
            let mut p = events;
            while !p.is_null() {
                // SAFETY: the list is terminated by an event of type 0 (LIST_TERMINATED).
                let e = unsafe { &*p };
                let kind = match e.kind {
                    0 => break,
                    1 => Some(EventKind::Word),
                    2 => Some(EventKind::Sentence),
                    5 => Some(EventKind::End),
                    _ => None,
                };
                if let Some(kind) = kind {
                    out.events.push(Event {
                        kind,
                        text_position: e.text_position.max(0) as u32,
                        length: e.length.max(0) as u32,
                        sample: e.sample.max(0) as u64,
                        buffer: (before, after),
                    });
                }
                // SAFETY: not past the terminator, which we have not reached yet.
                p = unsafe { p.add(1) };
            }
        });
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// How a forked copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyEnded {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl Engine {
    /// Runs `f` in a forked copy of this process and waits for the copy to end; the copy exits
    /// with `f`'s return value (101 if it panicked) without running destructors or `atexit`
    /// handlers. Whatever `f` changes in memory, the library's state included, dies with the
    /// copy.
    ///
    /// Refused (with an error) unless the process had one thread before the library was
    /// loaded and has no more threads now than right after (see the module docs).
    pub fn in_fresh_copy(
        &mut self,
        f: impl FnOnce(&mut Engine) -> i32,
    ) -> Result<CopyEnded, String> {
        let now = thread_count()?;
        if self.threads.0 != 1 || now != self.threads.1 {
            return Err(format!(
                "refusing to fork: the process had {} threads before loading libespeak-ng, {} \
                 right after, and has {now} now (the synthesis worker must start no thread)",
                self.threads.0, self.threads.1
            ));
        }
        // SAFETY: the only threads besides this one are the library's idle ones (checked
        // above, see the module docs), so the copy may call anything the original could.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork failed: {e}"))? {
            nix::unistd::ForkResult::Child => {
                let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)))
                    .unwrap_or(101);
                // SAFETY: _exit ends the copy without unwinding into the original's frames or
                // flushing buffers it shares with the original.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => loop {
                use nix::sys::wait::{WaitStatus, waitpid};
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return Ok(CopyEnded::Exited(code)),
                    Ok(WaitStatus::Signaled(_, sig, _)) => {
                        return Ok(CopyEnded::Signaled(sig as i32));
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(format!("cannot wait for the forked copy: {e}")),
                }
            },
        }
    }
}

/// Stand-ins for libpcaudio's functions, for the aloud executable to export in its place (see
/// the module docs): there is no audio device, so every call fails and nothing plays. The
/// names must match the list in `build.rs`; a worker whose library cannot bind one of them
/// cannot load it, which the conformance suite would report.
mod no_audio_device {
    use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void};

    /// `create_audio_device_object(device, application_name, description)`: none.
    #[unsafe(no_mangle)]
    extern "C" fn create_audio_device_object(
        _device: *const c_char,
        _application_name: *const c_char,
        _description: *const c_char,
    ) -> *mut c_void {
        std::ptr::null_mut()
    }

    /// `audio_object_open(object, format, rate, channels)`: fails.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_open(
        _object: *mut c_void,
        _format: c_int,
        _rate: c_uint,
        _channels: c_uchar,
    ) -> c_int {
        -1
    }

    /// `audio_object_close(object)`.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_close(_object: *mut c_void) {}

    /// `audio_object_destroy(object)`.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_destroy(_object: *mut c_void) {}

    /// `audio_object_write(object, data, bytes)`: fails.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_write(
        _object: *mut c_void,
        _data: *const c_void,
        _bytes: usize,
    ) -> c_int {
        -1
    }

    /// `audio_object_drain(object)`: fails.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_drain(_object: *mut c_void) -> c_int {
        -1
    }

    /// `audio_object_flush(object)`: fails.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_flush(_object: *mut c_void) -> c_int {
        -1
    }

    /// `audio_object_strerror(object, error)`: a static message.
    #[unsafe(no_mangle)]
    extern "C" fn audio_object_strerror(_object: *mut c_void, _error: c_int) -> *const c_char {
        c"aloud plays no audio".as_ptr()
    }
}

fn thread_count() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .map_err(|e| format!("cannot count this process's threads: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loading is once per process, so every test that loads is in this one function, in order.
    #[test]
    fn loading_missing_wrong_and_real_libraries() {
        a_missing_library_is_reported_and_can_be_retried();
        a_library_without_the_functions_is_missing_them();
        the_real_library_speaks_with_exact_event_positions();
    }

    fn a_missing_library_is_reported_and_can_be_retried() {
        let err = Engine::load(OsStr::new("/nonexistent/libespeak-ng.so.1")).unwrap_err();
        assert!(
            matches!(&err, LoadError::Missing(m) if m.contains("/nonexistent/libespeak-ng.so.1")),
            "{err:?}"
        );
        // A failed load does not count as the process's one load.
        let again = Engine::load(OsStr::new("/nonexistent/libespeak-ng.so.1")).unwrap_err();
        assert!(matches!(again, LoadError::Missing(_)), "{again:?}");
    }

    fn a_library_without_the_functions_is_missing_them() {
        let err = Engine::load(OsStr::new("libc.so.6")).unwrap_err();
        assert!(
            matches!(&err, LoadError::Missing(m) if m.contains("espeak_ng_InitializePath")),
            "{err:?}"
        );
    }

    #[test]
    fn the_event_list_is_read_up_to_its_terminator() {
        let mut samples = [1i16, 2, 3];
        let ev = |kind, pos, len, sample| RawEvent {
            kind,
            unique_identifier: 0,
            text_position: pos,
            length: len,
            audio_position: 0,
            sample,
            user_data: std::ptr::null_mut(),
            id: RawEventId { number: 0 },
        };
        let mut events = [
            ev(2, 1, 0, 0),
            ev(1, 1, 5, 1),
            ev(8, 0, 0, 0), // sample rate: internal, ignored
            ev(5, 6, 0, 3),
            ev(0, 0, 0, 0),
            ev(1, 99, 9, 9), // past the terminator: never read
        ];
        let mut got_samples = Vec::new();
        let mut sink = |s: &[i16]| got_samples.extend_from_slice(s);
        let sink: &mut dyn FnMut(&[i16]) = &mut sink;
        // SAFETY (test): the sink outlives both callback calls below.
        let sink: *mut (dyn FnMut(&[i16]) + 'static) = unsafe { std::mem::transmute(sink) };
        COLLECTED.with_borrow_mut(|c| {
            *c = Some(Collecting {
                samples: 0,
                events: Vec::new(),
                sink,
            })
        });
        // SAFETY: valid buffers of the stated lengths, terminated event list.
        let r = unsafe { on_synth(samples.as_mut_ptr(), 3, events.as_mut_ptr()) };
        assert_eq!(r, 0);
        // A NULL buffer is the end of the text.
        let r = unsafe { on_synth(std::ptr::null_mut(), 0, events[4..].as_mut_ptr()) };
        assert_eq!(r, 0);
        let got = COLLECTED.with_borrow_mut(Option::take).unwrap();
        assert_eq!(got.samples, 3);
        assert_eq!(got_samples, [1, 2, 3]);
        let kinds: Vec<_> = got
            .events
            .iter()
            .map(|e| (e.kind, e.text_position, e.sample))
            .collect();
        assert_eq!(
            kinds,
            [
                (EventKind::Sentence, 1, 0),
                (EventKind::Word, 1, 1),
                (EventKind::End, 6, 3)
            ]
        );
        assert!(got.events.iter().all(|e| e.buffer == (0, 3)));
    }

    /// Loads the real library into the test process (it keeps global state: once only).
    fn the_real_library_speaks_with_exact_event_positions() {
        let mut engine = match Engine::load(OsStr::new("libespeak-ng.so.1")) {
            Ok(e) => e,
            Err(e) => {
                if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
                    panic!("libespeak-ng1 is not installed, and CI must run every test: {e}");
                }
                eprintln!("\n*** SKIPPED: libespeak-ng could not be loaded ({e}). ***\n");
                return;
            }
        };
        assert!(matches!(
            Engine::load(OsStr::new("libespeak-ng.so.1")),
            Err(LoadError::AlreadyLoaded)
        ));
        assert_eq!(engine.sample_rate(), 22050);
        assert!(engine.version().starts_with('1'), "{}", engine.version());
        engine.set_voice("en-us").unwrap();
        engine.set_rate(175).unwrap();
        engine.set_pitch(50).unwrap();
        assert!(engine.set_voice("xx-no-such-voice").is_err());
        engine.set_voice("en-us").unwrap();
        let mut samples = Vec::new();
        let events = engine
            .synthesize("Hello world. Café naïve.", &mut |s| {
                samples.extend_from_slice(s)
            })
            .unwrap();
        assert!(samples.len() > 10_000);
        let words: Vec<(u32, u32)> = events
            .iter()
            .filter(|e| e.kind == EventKind::Word)
            .map(|e| (e.text_position, e.length))
            .collect();
        assert_eq!(words, [(1, 5), (7, 5), (14, 4), (19, 5)]);
        let sentences = events
            .iter()
            .filter(|e| e.kind == EventKind::Sentence)
            .count();
        assert_eq!(sentences, 2);
        for e in &events {
            assert!(
                e.buffer.0 <= e.sample && e.sample <= e.buffer.1,
                "{e:?} is outside the buffer that carried it"
            );
        }
        assert!(engine.synthesize("a\0b", &mut |_| {}).is_err());
        // The test harness runs on several threads: forking is refused.
        let err = engine.in_fresh_copy(|_| 0).unwrap_err();
        assert!(err.contains("refusing to fork"), "{err}");
    }
}
