//! The `souk` binary.

fn main() -> std::process::ExitCode {
    souk_cli::run()
}
