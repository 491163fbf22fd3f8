//! The text log format: `time LEVEL target: message key=value …`, one line per
//! event, written without `tracing-subscriber`'s styling machinery. The access
//! line is written for every request, so its cost is on the hot path.
//!
//! Strings are quoted (and escaped) unless they were logged with `%` (Display),
//! as in `tracing-subscriber`'s default format; durations logged as `f64`
//! milliseconds get three decimals.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// See the module documentation.
pub struct Text;

thread_local! {
    /// The line being built: pushes to it are inlined, where each write to
    /// the subscriber's writer is a dynamic call.
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
    /// The whole second of the last timestamp, and its text up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        LINE.with(|cell| {
            // An event logged while a field of another is being formatted
            // finds the buffer taken and builds its line in a new one.
            let mut own = String::new();
            let mut reused = cell.try_borrow_mut();
            let line = match &mut reused {
                Ok(line) => {
                    line.clear();
                    &mut **line
                }
                Err(_) => &mut own,
            };
            format_line(line, event);
            w.write_str(line)
        })
    }
}

fn format_line(line: &mut String, event: &Event<'_>) {
    let meta = event.metadata();
    let level = match *meta.level() {
        Level::ERROR => "ERROR",
        Level::WARN => " WARN",
        Level::INFO => " INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    };
    push_time(line, SystemTime::now());
    line.push(' ');
    line.push_str(level);
    line.push(' ');
    line.push_str(meta.target());
    line.push(':');
    // The message first, then the fields in the order they were given.
    let message_at = line.len();
    event.record(&mut Fields { line, message_at });
    line.push('\n');
}

/// RFC 3339 in UTC with microseconds; the part up to the seconds is made
/// once a second.
fn push_time(line: &mut String, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            text.clear();
            let whole = UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let _ = write!(text, "{}", humantime::format_rfc3339_seconds(whole));
            // Without its `Z`: the fraction comes first.
            text.pop();
            *cached = secs;
        }
        line.push_str(text);
    });
    line.push('.');
    push_padded(line, u64::from(since.subsec_micros()), 6);
    line.push('Z');
}

/// Decimal digits of `n`, at least `width` of them.
fn push_padded(line: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while n > 0 || digits.len() - at < width.max(1) {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &digits[at..] {
        line.push(char::from(d));
    }
}

struct Fields<'a> {
    line: &'a mut String,
    /// Where the message goes: after the target, before every field. The
    /// macros record it first; a message recorded later is moved there.
    message_at: usize,
}

impl Fields<'_> {
    /// ` name=value` for a field, ` value` for the message, in one pass over
    /// the event's fields.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut String)) {
        if field.name() != "message" {
            self.line.push(' ');
            self.line.push_str(field.name());
            self.line.push('=');
            value(self.line);
        } else if self.message_at == self.line.len() {
            self.line.push(' ');
            value(self.line);
        } else {
            let mut text = String::from(" ");
            value(&mut text);
            self.line.insert_str(self.message_at, &text);
        }
    }
}

/// A string in quotes, escaped as `Debug` does when it has to be.
fn push_quoted(line: &mut String, value: &str) {
    // One pass without an early exit: the compiler vectorises it, which
    // halves what checking an access line's seven strings costs.
    let plain = value.bytes().fold(true, |ok, b| {
        ok & (b' '..=b'~').contains(&b) & (b != b'"') & (b != b'\\')
    });
    if plain {
        line.push('"');
        line.push_str(value);
        line.push('"');
    } else {
        let _ = write!(line, "{value:?}");
    }
}

/// Milliseconds with three decimals, without float formatting.
fn push_millis(line: &mut String, value: f64) {
    if value.is_finite() && (0.0..1e12).contains(&value) {
        let thousandths = (value * 1000.0).round() as u64;
        push_padded(line, thousandths / 1000, 1);
        line.push('.');
        push_padded(line, thousandths % 1000, 3);
    } else {
        let _ = write!(line, "{value}");
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |line| push_quoted(line, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |line| push_padded(line, value, 1));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |line| {
            if value < 0 {
                line.push('-');
            }
            push_padded(line, value.unsigned_abs(), 1);
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |line| {
            line.push_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |line| push_millis(line, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |line| {
            let _ = write!(line, "{value:?}");
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn numbers_and_times_are_written_like_the_standard_formatter() {
        for (n, width) in [
            (0u64, 1),
            (7, 1),
            (42, 3),
            (123_456, 6),
            (5, 6),
            (u64::MAX, 1),
        ] {
            let mut s = String::new();
            super::push_padded(&mut s, n, width);
            assert_eq!(s, format!("{n:0width$}"));
        }
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_000_123_000_042);
        let mut s = String::new();
        super::push_time(&mut s, t);
        assert_eq!(s, humantime::format_rfc3339_micros(t).to_string());
        // The cached second is not reused for another second.
        let mut s = String::new();
        super::push_time(&mut s, t + std::time::Duration::from_secs(3601));
        assert_eq!(
            s,
            humantime::format_rfc3339_micros(t + std::time::Duration::from_secs(3601)).to_string()
        );
    }

    #[test]
    fn strings_are_quoted_as_debug_quotes_them() {
        let mut cases: Vec<String> = (0..=127u8)
            .map(|b| format!("a{}b", char::from(b)))
            .collect();
        cases.extend(["", "plain", "é", "\u{7f}", "tab\there", "\u{2028}"].map(String::from));
        for case in cases {
            let mut s = String::new();
            super::push_quoted(&mut s, &case);
            assert_eq!(s, format!("{case:?}"));
        }
    }

    #[test]
    fn a_line_has_time_level_target_message_and_fields_in_order() {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(super::Text)
            .with_writer(buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let path = "/rest/api/2/x";
            tracing::info!(target: "restgate::access", request_id = "ab\"c", path = %path,
                status = 200u16, ok = true, delta = -3i64, total_ms = 1.23456, "Request");
            tracing::warn!(reason = ?Some("x"), "Second");
            tracing::info!(n = 1u64, message = "Third");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{time}");
        assert_eq!(
            rest,
            r#" INFO restgate::access: Request request_id="ab\"c" path=/rest/api/2/x status=200 ok=true delta=-3 total_ms=1.235"#
        );
        // The time matches the library's own RFC 3339 form to the second.
        let t: std::time::SystemTime = humantime::parse_rfc3339(time).unwrap();
        assert!(t.elapsed().unwrap_or_default() < std::time::Duration::from_secs(60));
        assert!(
            lines[1]
                .ends_with(r#" WARN restgate::telemetry::logfmt::tests: Second reason=Some("x")"#),
            "{}",
            lines[1]
        );
        // A message given after the fields still comes first.
        assert!(
            lines[2].ends_with(r#" INFO restgate::telemetry::logfmt::tests: "Third" n=1"#),
            "{}",
            lines[2]
        );
    }
}
