//! Structured logs with `tracing`: human-readable or JSON lines, on standard error, so
//! standard output stays for command results.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub(crate) fn init(config: &Config) {
    // INVARIANT: the level was validated when the configuration was loaded.
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
