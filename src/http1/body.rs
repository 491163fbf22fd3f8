//! The body of a response read by the fast path's client: a state machine
//! over the connection's buffer, which hands the connection back to its pool
//! when the body ended exactly where its framing says.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::io::AsyncReadExt;

use super::client::{Conn, Error, READ_SIZE};
use super::framing::State;

/// Largest trailer section of a chunked body (dropped, as hyper drops it).
const MAX_TRAILERS: usize = 16 * 1024;

/// A body's error, as `http_body` bodies carry them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a connection whose response ended cleanly goes back.
pub trait Pool: Send + Sync {
    /// Takes a connection that can serve another request.
    fn checkin(&self, conn: Conn);
}

/// The body of a response read by [`Conn::exchange`].
pub struct LeanBody {
    /// Taken when the body fails; returned to the pool on drop if it ended.
    conn: Option<Conn>,
    pool: Arc<dyn Pool>,
    state: State,
    /// HTTP/1.1 without `Connection: close`, and not delimited by the close.
    reusable: bool,
}

impl LeanBody {
    /// The body of the response whose head `conn` just read.
    pub fn new(conn: Conn, pool: Arc<dyn Pool>, state: State, reusable: bool) -> Self {
        LeanBody {
            conn: Some(conn),
            pool,
            state,
            reusable,
        }
    }
}

// === impl LeanBody ===

impl LeanBody {
    /// The next frame, or `None` at the end; the state machine over the
    /// connection's buffer, reading more when it runs dry.
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let buf = &mut conn.buf;
            match self.state {
                State::Done | State::Length(0) => {
                    self.state = State::Done;
                    return Poll::Ready(None);
                }
                State::Length(n) if !buf.is_empty() => {
                    let take = n.min(buf.len() as u64);
                    self.state = State::Length(n - take);
                    return data(buf, take);
                }
                State::Close if !buf.is_empty() => {
                    let take = buf.len() as u64;
                    return data(buf, take);
                }
                State::ChunkData(n) if !buf.is_empty() => {
                    let take = n.min(buf.len() as u64);
                    self.state = if take == n {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take)
                    };
                    return data(buf, take);
                }
                State::ChunkSize if !buf.is_empty() => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        buf.advance(used);
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                        continue;
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return self.fail("chunk size line is not valid"),
                },
                State::ChunkEnd if buf.len() >= 2 => {
                    if !buf.starts_with(b"\r\n") {
                        return self.fail("chunk data longer than its size");
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                    continue;
                }
                State::Trailers if !buf.is_empty() => {
                    let end = if buf.starts_with(b"\r\n") {
                        Some(2)
                    } else {
                        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
                    };
                    if let Some(end) = end {
                        buf.advance(end);
                        self.state = State::Done;
                        return Poll::Ready(None);
                    }
                    if buf.len() > MAX_TRAILERS {
                        return self.fail("chunked trailers too large");
                    }
                }
                _ => {}
            }
            // The buffer does not hold the next step: read more.
            buf.reserve(READ_SIZE);
            let read = ready!(std::pin::pin!(conn.io.read_buf(buf)).poll(cx));
            match read {
                Ok(0) if self.state == State::Close => {
                    // `reusable` is false for this framing from the start.
                    self.state = State::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return self.fail("the upstream closed mid-body"),
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    /// Whether the body has ended.
    pub fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    /// What is left, exactly where the framing says.
    pub fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }

    /// A broken body: its connection is closed, never reused.
    fn fail(&mut self, what: &'static str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(Error::Malformed(what).into())))
    }
}

/// The next `n` buffered bytes as a data frame (shared, not copied).
fn data(buf: &mut BytesMut, n: u64) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
    Poll::Ready(Some(Ok(Frame::data(buf.split_to(n).freeze()))))
}

impl Drop for LeanBody {
    fn drop(&mut self) {
        // Back to the pool only at a clean end with nothing read past it; a
        // body dropped midway (the client left) closes its connection.
        if let Some(conn) = self.conn.take() {
            if self.reusable && self.is_end_stream() && conn.buf.is_empty() {
                self.pool.checkin(conn);
            }
        }
    }
}
