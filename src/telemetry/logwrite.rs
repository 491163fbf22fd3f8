//! The log sink: lines collect in one buffer that is written out in one
//! `write(2)` when it fills, at once for a warning or an error, and by a
//! flusher thread a few times a second otherwise.
//!
//! Logging threads append under an uncontended lock and never wake another
//! thread, so a gateway pinned to one CPU spends no context switch on its
//! access lines; a channel to a writer thread (tracing-appender) cost a wake-up
//! per batch and a spinning receiver on that same CPU. A full buffer is written
//! by the thread that filled it, in order: lines wait for a slow stderr rather
//! than get lost.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Buffered bytes past which the logging thread writes them out itself.
pub const FLUSH_AT: usize = 32 * 1024;

/// Longest time an info line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The [`MakeWriter`] handed to the subscriber.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Stops the flusher and writes out what is buffered when dropped.
#[must_use = "lines buffered when the guard drops are written then; keep it until exit"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher early: on shutdown.
    stop: Condvar,
}

struct State {
    buf: Vec<u8>,
    out: Box<dyn Write + Send>,
    stopping: bool,
}

/// One event's writer: appends, and writes out when the buffer is full or the
/// event is urgent.
pub struct LineWriter<'a> {
    shared: &'a Shared,
    urgent: bool,
}

// === impl LogSink ===

impl LogSink {
    /// A sink writing to `out`, with its flusher thread started.
    pub fn new(out: Box<dyn Write + Send>) -> (LogSink, FlushGuard) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: Vec::with_capacity(FLUSH_AT + 4096),
                out,
                stopping: false,
            }),
            stop: Condvar::new(),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("restgate-log".into())
                .spawn(move || shared.flush_periodically())
                .ok()
        };
        (
            LogSink {
                shared: shared.clone(),
            },
            FlushGuard { shared, flusher },
        )
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

// === impl Shared ===

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while logging leaves a buffer that is still just bytes.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn flush_periodically(&self) {
        let mut state = self.lock();
        loop {
            state = self
                .stop
                .wait_timeout(state, FLUSH_EVERY)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.write_out();
            if state.stopping {
                return;
            }
        }
    }
}

// === impl State ===

impl State {
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // Nothing sensible is left to do when stderr fails: the bytes are dropped
        // so the buffer cannot grow without bound.
        let _ = self.out.write_all(&self.buf);
        let _ = self.out.flush();
        self.buf.clear();
    }
}

// === impl LineWriter ===

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.lock();
        state.buf.extend_from_slice(bytes);
        if self.urgent || state.buf.len() >= FLUSH_AT {
            state.write_out();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// === impl FlushGuard ===

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.stop.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        // Also when the flusher thread could not start.
        self.shared.lock().write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Records each `write_all` it gets as one chunk.
    struct Recorder(mpsc::Sender<Vec<u8>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.0.send(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink() -> (LogSink, FlushGuard, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel();
        let (sink, guard) = LogSink::new(Box::new(Recorder(tx)));
        (sink, guard, rx)
    }

    fn line(sink: &LogSink, n: usize) {
        sink.make_writer()
            .write_all(format!("line {n:06}\n").as_bytes())
            .unwrap();
    }

    #[test]
    fn many_lines_go_out_in_few_writes_in_order_and_whole() {
        let (sink, guard, rx) = sink();
        let lines = 10_000;
        for n in 0..lines {
            line(&sink, n);
        }
        drop(guard);
        let chunks: Vec<Vec<u8>> = rx.try_iter().collect();
        let all: Vec<u8> = chunks.concat();
        let expected: String = (0..lines).map(|n| format!("line {n:06}\n")).collect();
        assert_eq!(String::from_utf8(all).unwrap(), expected);
        // 120 KB of lines: a write per 32 KiB, not per line.
        assert!(chunks.len() <= 8, "{} writes", chunks.len());
        assert!(
            chunks.iter().all(|c| c.ends_with(b"\n")),
            "a line was split"
        );
    }

    #[test]
    fn an_info_line_is_written_by_the_flusher_without_more_logging() {
        let (sink, _guard, rx) = sink();
        line(&sink, 1);
        let chunk = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(chunk, b"line 000001\n");
    }

    #[test]
    fn a_warning_is_written_at_once_with_what_came_before() {
        let (sink, guard, rx) = sink();
        line(&sink, 1);
        let warn = tracing::Metadata::new(
            "w",
            "t",
            Level::WARN,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing_core_callsite()),
            tracing::metadata::Kind::EVENT,
        );
        sink.make_writer_for(&warn).write_all(b"warned\n").unwrap();
        // Written by this thread before write_all returned (the flusher may
        // have taken the first line already).
        let got: Vec<u8> = rx.try_iter().collect::<Vec<_>>().concat();
        assert_eq!(got, b"line 000001\nwarned\n");
        drop(guard);
        assert!(rx.try_iter().next().is_none());
    }

    fn tracing_core_callsite() -> tracing::callsite::Identifier {
        struct Cs;
        impl tracing::callsite::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                unreachable!()
            }
        }
        static CS: Cs = Cs;
        tracing::callsite::Identifier(&CS)
    }
}
