//! `server.idle_timeout`: a connection on which no byte moved either way for the
//! timeout, while no request on it awaits its response, is closed.
//!
//! Traffic only sets a flag: no clock read and no timer change per request.
//! One timer per connection ticks every quarter of the timeout; the
//! connection is closed at the fifth tick in a row that saw no traffic, so
//! after between 1 and 1.25 times the timeout of silence.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests on one connection whose response head is not yet produced.
#[derive(Debug, Default, Clone)]
pub struct Busy(Arc<AtomicUsize>);

impl Busy {
    /// Marks a request in flight until the guard drops.
    pub fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        BusyGuard(self.0.clone())
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// See [`Busy::enter`].
#[derive(Debug)]
pub struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ticks per timeout.
const TICKS: u32 = 4;

/// A stream that ends itself after `idle` without traffic.
#[derive(Debug)]
pub struct IdleIo<T> {
    inner: T,
    tick: Duration,
    /// Bytes moved since the last tick.
    moved: bool,
    /// Ticks in a row without traffic.
    quiet: u32,
    timer: Pin<Box<Sleep>>,
    /// The waker the running timer was last polled with. Polling it again with
    /// the same waker before it fires would only register that waker again;
    /// a new one (the stream moved to a tunnel task) is registered.
    armed_for: Option<Waker>,
    busy: Busy,
}

impl<T> IdleIo<T> {
    pub fn new(inner: T, idle: Duration, busy: Busy) -> Self {
        let tick = idle / TICKS;
        IdleIo {
            inner,
            tick,
            moved: false,
            quiet: 0,
            timer: Box::pin(tokio::time::sleep(tick)),
            armed_for: None,
            busy,
        }
    }

    /// True once the connection has been idle for the timeout; otherwise the
    /// timer will wake this task at its next tick.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let armed = self
            .armed_for
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()));
        if armed && !self.timer.is_elapsed() {
            return false;
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            // A request awaiting its upstream counts as traffic: its own
            // timeout governs.
            if self.moved || self.busy.any() {
                self.moved = false;
                self.quiet = 0;
            } else {
                self.quiet += 1;
                if self.quiet > TICKS {
                    return true;
                }
            }
            // From now, not from the missed deadline: a tick is never skipped.
            self.timer.as_mut().reset(Instant::now() + self.tick);
        }
        if !armed {
            self.armed_for = Some(cx.waker().clone());
        }
        false
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.moved = true;
                }
                Poll::Ready(r)
            }
            // End of stream: the server closes its side as after a client close.
            Poll::Pending if this.expired(cx) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> IdleIo<T> {
    /// Notes traffic from a write, or ends a write stalled past the timeout.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.moved = true;
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client stopped reading",
            ))),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A stream polled by one task, then moved to another (as an upgraded
    /// connection moves to its tunnel task), still ends after the timeout:
    /// the timer wakes the task that reads now, not the one that read first.
    #[tokio::test]
    async fn the_timeout_follows_the_stream_to_another_task() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let idle = Duration::from_millis(200);
        let mut io = IdleIo::new(server, idle, Busy::default());

        let mut io = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let first = tokio::time::timeout(Duration::from_millis(20), io.read(&mut buf)).await;
            assert!(first.is_err(), "nothing was sent, so the first read waits");
            io
        })
        .await
        .unwrap();
        let started = Instant::now();
        let ended = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            tokio::time::timeout(Duration::from_secs(5), io.read(&mut buf)).await
        })
        .await
        .unwrap();
        assert!(
            matches!(ended, Ok(Ok(0))),
            "ended by the idle timeout: {ended:?}"
        );
        assert!(started.elapsed() < idle * 2, "took {:?}", started.elapsed());
        drop(client);
    }
}
