//! Every line the binary writes to stderr goes through here: notes, warnings, the one error
//! line (from `exit.rs`), progress, and the library's log records (a tiny `log::Log` that
//! prints warnings always, more with `-v`/`-vv` or `RUST_LOG`).

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Writes one line, whitespace collapsed so that a line is always one line.
fn line(prefix: &str, message: &str) {
    let text = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = writeln!(std::io::stderr().lock(), "suger-metering: {prefix}{text}");
}

/// A note: what happened (`suger-metering: ...`).
pub(crate) fn note(message: impl AsRef<str>) {
    line("", message.as_ref());
}

/// A warning (`suger-metering: warning: ...`).
pub(crate) fn warn(message: impl AsRef<str>) {
    line("warning: ", message.as_ref());
}

/// The error line of a failed command (`suger-metering: error: ...`); only `exit.rs` calls it.
pub(crate) fn error(message: impl AsRef<str>) {
    line("error: ", message.as_ref());
}

/// A progress line that the next one overwrites (terminals only; the caller checks).
pub(crate) fn progress(message: impl AsRef<str>, last: bool) {
    let mut err = std::io::stderr().lock();
    let _ = if last {
        writeln!(err, "\rsuger-metering: {}   ", message.as_ref())
    } else {
        write!(err, "\rsuger-metering: {}", message.as_ref())
    };
}

/// The library's log records on stderr.
struct StderrLog {
    level: LevelFilter,
    /// From `RUST_LOG`: `(target prefix, level)`, the longest matching prefix wins.
    targets: Vec<(String, LevelFilter)>,
}

impl StderrLog {
    fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .filter(|(t, _)| target.starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len())
            .map_or(self.level, |(_, l)| *l)
    }
}

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            Level::Error => "error: ".to_string(),
            Level::Warn => "warning: ".to_string(),
            l => format!("{}: {}: ", l.as_str().to_ascii_lowercase(), record.target()),
        };
        line(&prefix, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// Parses `RUST_LOG` (`debug`, `suger_metering=debug,ureq=info`): a default level and levels
/// per target prefix. Unknown words are ignored.
fn parse_rust_log(spec: &str) -> (Option<LevelFilter>, Vec<(String, LevelFilter)>) {
    let mut default = None;
    let mut targets = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((t, l)) => {
                if let Ok(l) = l.trim().parse() {
                    targets.push((t.trim().to_string(), l));
                }
            }
            None => match item.parse() {
                Ok(l) => default = Some(l),
                Err(_) => targets.push((item.to_string(), LevelFilter::Trace)),
            },
        }
    }
    (default, targets)
}

/// Installs the logger: warnings always; `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` when
/// set (the higher of the two wins).
pub(crate) fn init_logging(verbose: u8) {
    let from_flags = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let (from_env, targets) = std::env::var("RUST_LOG")
        .map(|s| parse_rust_log(&s))
        .unwrap_or_default();
    let level = from_env.map_or(from_flags, |l| l.max(from_flags));
    let max = targets.iter().map(|(_, l)| *l).fold(level, Ord::max);
    let logger: &'static StderrLog = Box::leak(Box::new(StderrLog { level, targets }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_a_default_and_per_target_levels() {
        let (d, t) = parse_rust_log("info, suger_metering=debug ,nonsense=loud");
        assert_eq!(d, Some(LevelFilter::Info));
        assert_eq!(t, [("suger_metering".to_string(), LevelFilter::Debug)]);
        let log = StderrLog {
            level: LevelFilter::Warn,
            targets: t,
        };
        assert_eq!(log.level_for("suger_metering::x"), LevelFilter::Debug);
        assert_eq!(log.level_for("ureq"), LevelFilter::Warn);
    }
}
