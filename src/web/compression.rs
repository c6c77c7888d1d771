//! Compression for the clients that ask for it. The others — servers
//! fetching actors and statements, which never send `Accept-Encoding` —
//! bypass the compression layer entirely: wrapping their bodies cost the
//! actor document a fifth of its throughput (39,600 → 31,800 req/s in
//! `cargo bench --bench reads`). A tower service rather than
//! `axum::middleware::from_fn`, which boxes every request's future (6.6 kB
//! here) and clones a boxed service for it.

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{body::Body, extract::Request, http::header::ACCEPT_ENCODING, response::Response};
use futures::{
    TryFutureExt,
    future::{Either, MapOk},
};
use tower::{Layer, Service};
use tower_http::compression::{
    Compression, CompressionBody, CompressionLayer, DefaultPredicate, ResponseFuture,
};

/// Wraps each route in [`CompressIfAsked`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CompressIfAskedLayer;

impl<S: Clone> Layer<S> for CompressIfAskedLayer {
    type Service = CompressIfAsked<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CompressIfAsked {
            compressed: CompressionLayer::new().layer(inner.clone()),
            plain: inner,
        }
    }
}

/// A route, compressed when the request has `Accept-Encoding`, else as it is.
#[derive(Clone)]
pub struct CompressIfAsked<S> {
    plain: S,
    compressed: Compression<S>,
}

type Compressed<F> =
    MapOk<ResponseFuture<F, DefaultPredicate>, fn(Response<CompressionBody<Body>>) -> Response>;

impl<S> Service<Request> for CompressIfAsked<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Compressed<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Either may take the request: both must be ready (axum's routes
        // always are).
        match self.plain.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.compressed.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.headers().contains_key(ACCEPT_ENCODING) {
            let boxed: fn(Response<CompressionBody<Body>>) -> Response = |r| r.map(Body::new);
            Either::Right(self.compressed.call(request).map_ok(boxed))
        } else {
            Either::Left(self.plain.call(request))
        }
    }
}
