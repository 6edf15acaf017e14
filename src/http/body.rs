//! Request bodies that cannot pin memory or a company.
//!
//! Three guards, each a wrapper around the body the handler reads:
//! - every body has an idle read timeout (`--body-read-timeout`, tower-http's
//!   `RequestBodyTimeoutLayer`, installed in [`super::router`]);
//! - a company-data body ends with [`CompanyClosing`] as soon as its company starts closing
//!   (delete, migrate, restore), so closing waits for handlers, never for a client that
//!   stops sending ([`cut_on_close`]);
//! - a multipart body is scanned as it passes: the text before the first boundary and each
//!   part's headers may not exceed [`MAX_UNFRAMED`] bytes, which is what the multipart
//!   parser would otherwise buffer whole, looking for the end ([`bounded_multipart`]).
//!
//! [`failure_of`] finds which guard ended a body anywhere in an extractor's error chain and
//! names the API's answer.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use memchr::memmem;

use crate::error::Error;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Most bytes of a multipart body read without finding the boundary it waits for (the
/// first one, or the end of a part's headers).
pub const MAX_UNFRAMED: usize = 64 * 1024;

/// The body was cut because its company is closing for maintenance.
#[derive(Debug, thiserror::Error)]
#[error("the company is being closed for maintenance; the request body was not read")]
pub struct CompanyClosing;

/// A multipart body that runs on without the framing it promised.
#[derive(Debug, thiserror::Error)]
#[error("malformed multipart body: no boundary or end of part headers within {MAX_UNFRAMED} bytes")]
pub struct Unframed;

/// The API's answer for a body that a guard ended, if one did.
pub fn failure_of(err: &(dyn StdError + 'static)) -> Option<Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return Some(Error::BodyTimeout);
        }
        if e.is::<CompanyClosing>() {
            return Some(Error::Unavailable(CompanyClosing.to_string()));
        }
        if e.is::<Unframed>() {
            return Some(Error::BadRequest(Unframed.to_string()));
        }
        cur = e.source();
    }
    None
}

/// `body`, ended with [`CompanyClosing`] when `closing` resolves.
pub fn cut_on_close(body: Body, closing: impl Future<Output = ()> + Send + 'static) -> Body {
    Body::new(Guarded {
        inner: body,
        guard: Closing(Box::pin(closing)),
        ended: false,
    })
}

/// `body` (a multipart stream with `boundary`), ended with [`Unframed`] when the framing
/// it waits for does not come within [`MAX_UNFRAMED`] bytes.
pub fn bounded_multipart(body: Body, boundary: &str) -> Body {
    Body::new(Guarded {
        inner: body,
        guard: Framing::new(boundary),
        ended: false,
    })
}

/// What may end a body early: checked before each frame is read, and on each data frame.
trait Guard: Send + Unpin {
    fn before_frame(&mut self, _cx: &mut Context<'_>) -> Option<BoxError> {
        None
    }
    fn on_data(&mut self, _data: &[u8]) -> Option<BoxError> {
        None
    }
}

struct Closing(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Guard for Closing {
    fn before_frame(&mut self, cx: &mut Context<'_>) -> Option<BoxError> {
        self.0
            .as_mut()
            .poll(cx)
            .is_ready()
            .then(|| Box::new(CompanyClosing) as BoxError)
    }
}

impl Guard for Framing {
    fn on_data(&mut self, data: &[u8]) -> Option<BoxError> {
        self.feed(data).err().map(|e| Box::new(e) as BoxError)
    }
}

/// A body that its guard may end with an error; after that it ends.
struct Guarded<G> {
    inner: Body,
    guard: G,
    ended: bool,
}

impl<G: Guard> HttpBody for Guarded<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(e) = this.guard.before_frame(cx) {
            this.ended = true;
            return Poll::Ready(Some(Err(e)));
        }
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(e) = frame.data_ref().and_then(|data| this.guard.on_data(data)) {
            this.ended = true;
            return Poll::Ready(Some(Err(e)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where a multipart stream is: what it must find next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first `--boundary`.
    Preamble,
    /// A part's headers, up to the blank line (`\r\n\r\n`).
    Headers,
    /// A part's content, up to `\r\n--boundary`: streamed by the parser, never buffered.
    Content,
}

/// Follows a multipart stream's framing chunk by chunk, counting the bytes read while
/// looking for a boundary or the end of headers.
struct Framing {
    first: Vec<u8>,
    delimiter: Vec<u8>,
    stage: Stage,
    /// Bytes consumed in the current Preamble or Headers stage.
    unframed: usize,
    /// The end of the last chunk, which may hold the start of a pattern split across chunks.
    tail: Vec<u8>,
}

impl Framing {
    fn new(boundary: &str) -> Self {
        Framing {
            first: format!("--{boundary}").into_bytes(),
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            stage: Stage::Preamble,
            unframed: 0,
            tail: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), Unframed> {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let (pattern, next): (&[u8], Stage) = match self.stage {
                Stage::Preamble => (&self.first, Stage::Headers),
                Stage::Headers => (b"\r\n\r\n", Stage::Content),
                Stage::Content => (&self.delimiter, Stage::Headers),
            };
            let counted = self.stage != Stage::Content;
            match memmem::find(&window[pos..], pattern) {
                Some(at) => {
                    if counted && self.unframed + at > MAX_UNFRAMED {
                        return Err(Unframed);
                    }
                    pos += at + pattern.len();
                    self.stage = next;
                    self.unframed = 0;
                }
                None => {
                    let rest = window.len() - pos;
                    let keep = rest.min(pattern.len() - 1);
                    if counted {
                        self.unframed += rest - keep;
                        if self.unframed > MAX_UNFRAMED {
                            return Err(Unframed);
                        }
                    }
                    self.tail = window[window.len() - keep..].to_vec();
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(f: &mut Framing, data: &[u8], chunk: usize) -> Result<(), Unframed> {
        data.chunks(chunk).try_for_each(|c| f.feed(c))
    }

    fn form(content: &[u8]) -> Vec<u8> {
        let mut body = b"--XYZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n\
            --XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
            .to_vec();
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        body
    }

    #[test]
    fn a_well_framed_body_passes_whatever_the_chunking() {
        let big = vec![b'x'; 3 * MAX_UNFRAMED];
        for chunk in [1, 2, 7, 64, 4096, usize::MAX] {
            let mut f = Framing::new("XYZ");
            feed_all(&mut f, &form(&big), chunk).unwrap();
            assert_eq!(f.stage, Stage::Headers, "chunk {chunk}");
        }
    }

    #[test]
    fn no_boundary_or_endless_headers_are_cut_at_the_limit() {
        // Past the limit by more than the few bytes kept back for a split pattern.
        let junk = vec![b'a'; MAX_UNFRAMED + 100];
        for chunk in [1, 100, 65_536, usize::MAX] {
            let mut f = Framing::new("XYZ");
            assert!(feed_all(&mut f, &junk, chunk).is_err(), "preamble, {chunk}");
            let mut headers = b"--XYZ\r\nX-Long: ".to_vec();
            headers.extend_from_slice(&junk);
            let mut f = Framing::new("XYZ");
            assert!(
                feed_all(&mut f, &headers, chunk).is_err(),
                "headers, {chunk}"
            );
        }
        // Just under the limit is still fine.
        let mut ok = vec![b'a'; MAX_UNFRAMED - 10];
        ok.extend_from_slice(&form(b"data"));
        feed_all(&mut Framing::new("XYZ"), &ok, 1000).unwrap();
    }
}
