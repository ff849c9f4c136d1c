//! Links the aloud executable so that its synthesis workers load libespeak-ng without the
//! playback libraries it depends on (see `src/backend/libespeak/ffi.rs`): the executable is
//! named `libpcaudio.so.0`, the dependency libespeak-ng's dynamic section asks for, and
//! exports stand-ins for that library's functions. The dynamic loader then finds the
//! dependency already loaded, aloud itself, and binds libespeak-ng's references to the
//! stand-ins. Only the executable is so linked, not the test programs.

/// libpcaudio's functions, as `ffi::no_audio_device` defines them.
const PCAUDIO_FUNCTIONS: [&str; 8] = [
    "create_audio_device_object",
    "audio_object_open",
    "audio_object_close",
    "audio_object_destroy",
    "audio_object_write",
    "audio_object_drain",
    "audio_object_flush",
    "audio_object_strerror",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The flags are those of the GNU, LLVM and mold linkers for ELF.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-soname,libpcaudio.so.0");
    for f in PCAUDIO_FUNCTIONS {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={f}");
    }
}
