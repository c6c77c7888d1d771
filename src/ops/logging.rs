//! The log: one line per event on stderr, every field escaped.
//!
//! Field values often carry what a request said — a WebFinger resource, an
//! activity's type, a remote error — and tracing's text format writes
//! `Display` values raw, so `%0A…` in a query forged whole log lines and
//! `%1B[2J` reached the operator's terminal. Every field and message passes
//! through [`Escaping`] here, in the one place that formats them, so no
//! call site has to remember. Writing happens off the request path
//! ([`init`]).

use std::fmt::Write;

use tracing_subscriber::{
    field::MakeExt,
    fmt::{MakeWriter, format::Writer},
};

/// Flushes what is still queued for the log when dropped: keep it for the
/// life of the process.
#[must_use = "the log is flushed when this is dropped"]
pub struct LogGuard {
    _flush: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Lines the log queue holds before a thread that logs waits for the writer.
/// The queue's slots (32 bytes each) are allocated and touched up front, so
/// its size is resident memory for the life of the process: tracing-appender's
/// default (128,000 lines) is 4 MB, more than the rest of an idle server's
/// heap, and 8,192 was 256 kB of it. A writer that drains batches of 64 kB
/// keeps far ahead of this: at 70,000 requests a second, a line each (the
/// read benchmark on a fast machine), 2,048 lines are 29 ms of them.
const LOG_QUEUE_LINES: usize = 2_048;

/// Bytes the writer thread gathers before a write to stderr. It writes
/// whatever it holds as soon as the queue is empty, so a line waits only
/// while more lines are behind it, never on a quiet server.
const LOG_WRITE_BYTES: usize = 64 * 1024;

/// Starts the process's logging at `filter` (`RUST_LOG` wins when set).
///
/// Lines are formatted on the thread that logs and written to stderr by a
/// thread of their own: a request never waits for the write (a pipe to a
/// container runtime, a slow disk). When the queue is full the logging
/// thread waits rather than dropping lines — no line is lost. Under load the
/// writer sends many lines per system call instead of one each.
pub fn init(filter: &str) -> LogGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("broadside-log")
        .finish(std::io::BufWriter::with_capacity(
            LOG_WRITE_BYTES,
            std::io::stderr(),
        ));
    // Colours only for a person at a terminal, never into files or
    // container logs.
    use std::io::IsTerminal;
    let installed = subscriber(filter, writer)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    LogGuard {
        _flush: installed.is_ok().then_some(guard),
    }
}

fn subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static,
    tracing_subscriber::fmt::format::Format,
    tracing_subscriber::EnvFilter,
    W,
>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fields = tracing_subscriber::fmt::format::debug_fn(escaped_field).delimited(" ");
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .fmt_fields(fields)
}

fn escaped_field(
    writer: &mut Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    // Strings arrive as their Debug form (quoted, already escaped); Display
    // values (`%x`) and the message arrive raw. Written straight through the
    // escaping, with no copy: this runs for every field of every line.
    if field.name() != "message" {
        write!(writer, "{}=", field.name())?;
    }
    write!(Escaping(writer), "{value:?}")
}

/// Passes text on with every control character (newlines, ESC, DEL, C1)
/// written as a `\u{…}` escape: one event stays one line, and no byte of it
/// is a terminal command.
pub struct Escaping<'a, W: Write + ?Sized>(pub &'a mut W);

impl<W: Write + ?Sized> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| c.is_control()) {
            self.0.write_str(&rest[..at])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn request_data_cannot_forge_lines_or_reach_the_terminal() {
        let captured = Captured::default();
        let subscriber = subscriber(tracing_subscriber::EnvFilter::new("info"), captured.clone())
            .with_ansi(false)
            .finish();
        let forged = "acct:x\n2099-01-01T00:00:00Z  INFO forged line\u{1b}[2J@h";
        tracing::subscriber::with_default(subscriber, || {
            let error = format!("no such resource here: {forged}");
            tracing::info!(error = %error, kind = forged, "request refused {}", forged);
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(!log.contains('\u{1b}'), "{log}");
        assert!(log.contains(r"acct:x\n2099-01-01"), "{log}");
        assert!(log.contains(r"\u{1b}[2J"), "{log}");
    }

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        Escaping(&mut out).write_str(text).unwrap();
        out
    }

    #[test]
    fn plain_text_is_untouched_and_controls_are_escaped() {
        assert_eq!(escaped("GET /inbox 202 ü"), "GET /inbox 202 ü");
        assert_eq!(escaped("a\u{7f}b\u{85}"), r"a\u{7f}b\u{85}");
        assert_eq!(escaped("\n\r\tx\u{1b}"), r"\n\r\tx\u{1b}");
    }
}
