//! The aloud binary: install the interrupt handler, run, exit with the documented code.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Ctrl-C and SIGTERM: stop handing out work and kill every engine's process group (they
    // lead their own groups, so the terminal's SIGINT does not reach them). The run then
    // unwinds normally, deleting temporary files, and exits 130. A synthesis worker gets no
    // handler: it must stay single-threaded, and its parent kills it.
    if !aloud::cli::is_worker(&args)
        && let Err(e) = ctrlc::set_handler(aloud::process::cancel_all)
    {
        aloud::report::warning(format_args!("cannot handle Ctrl-C: {e}"));
    }
    let code = aloud::run(args);
    std::process::exit(code.code());
}
