//! The text log format: `time LEVEL target: message key=value …`, one line per
//! event, written without `tracing-subscriber`'s styling machinery. The access
//! line is written for every request, so its cost is on the hot path.
//!
//! Strings are quoted (and escaped) unless they were logged with `%` (Display),
//! as in `tracing-subscriber`'s default format; durations logged as `f64`
//! milliseconds get three decimals.

use std::fmt;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// See the module documentation.
pub struct Text;

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
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "ERROR",
            Level::WARN => " WARN",
            Level::INFO => " INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        write!(
            w,
            "{} {level} {}:",
            humantime::format_rfc3339_micros(SystemTime::now()),
            meta.target()
        )?;
        // The message first, then the fields in the order they were given.
        let mut fields = Fields {
            w: &mut w,
            message: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.message = false;
        event.record(&mut fields);
        fields.result?;
        w.write_char('\n')
    }
}

struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    /// This pass writes the message only; the next, everything else.
    message: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// Writes ` name=` and then `value`, for this pass's fields only.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() || (field.name() == "message") != self.message {
            return;
        }
        self.result = self.w.write_char(' ').and_then(|()| {
            if !self.message {
                self.w.write_str(field.name())?;
                self.w.write_char('=')?;
            }
            value(self.w)
        });
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| {
            let plain = value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
            if plain {
                w.write_char('"')?;
                w.write_str(value)?;
                w.write_char('"')
            } else {
                write!(w, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |w| {
            if value.is_finite() && (0.0..1e12).contains(&value) {
                // Three decimals without float formatting: these are milliseconds.
                let thousandths = (value * 1000.0).round() as u64;
                write!(w, "{}.{:03}", thousandths / 1000, thousandths % 1000)
            } else {
                write!(w, "{value}")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| write!(w, "{value:?}"));
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
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{time}");
        assert_eq!(
            rest,
            r#" INFO restgate::access: Request request_id="ab\"c" path=/rest/api/2/x status=200 ok=true delta=-3 total_ms=1.235"#
        );
        assert!(
            lines[1].ends_with(r#" WARN restgate::cli::logfmt::tests: Second reason=Some("x")"#),
            "{}",
            lines[1]
        );
    }
}
