//! Routing: the request hook, AnyEvent::HTTPD's path walk, POEx's ordered regex handlers.

use super::forward::Forwarder;
use super::mock::{Answer, Registry};
use super::{Reply, Request};
use futures_util::future::BoxFuture;
use regex::Regex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// What a handler decided: answer, or pass the request on to the next handler.
///
/// Handlers may return a [`Reply`], an `Option<Reply>` (`None` passes) or a
/// `Result<Reply, E>` whose error converts into a reply (e.g. a body error).
#[derive(Debug)]
// Returned once per handler call and consumed at once: boxing the reply would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Answer with this reply; no further handler runs.
    Reply(Reply),
    /// Not mine: continue the walk (the next shorter path, then the regex handlers).
    Pass,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

impl From<Option<Reply>> for Outcome {
    fn from(reply: Option<Reply>) -> Self {
        reply.map_or(Self::Pass, Self::Reply)
    }
}

impl<E: Into<Reply>> From<Result<Reply, E>> for Outcome {
    fn from(result: Result<Reply, E>) -> Self {
        Self::Reply(result.unwrap_or_else(Into::into))
    }
}

/// A boxed handler: an async function from a request to an [`Outcome`].
pub(crate) type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// Boxes any `Fn(Request) -> impl Future<Output = impl Into<Outcome>>`.
pub(crate) fn boxed<F, Fut, O>(handler: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: Into<Outcome>,
{
    Arc::new(move |request| {
        let future = handler(request);
        Box::pin(async move { future.await.into() })
    })
}

/// An ordered regex handler (POEx): unanchored unless the pattern anchors itself.
#[derive(Clone)]
struct Pattern {
    source: String,
    regex: Regex,
    handler: Handler,
}

/// All of a server's handlers. Immutable once built: changes make a new router, so a
/// request in flight keeps the handlers it started with.
#[derive(Clone, Default)]
pub(crate) struct Router {
    /// Runs first for every request (HTTPD's `request` event); may answer or pass.
    request_hook: Option<Handler>,
    /// HTTPD path handlers, by exact path segment prefix ("/test/bla.jpg", "/test", "").
    /// (foldhash: every request looks up its path here; the keys are the server's own.)
    paths: HashMap<String, Handler, foldhash::fast::RandomState>,
    /// POEx regex handlers, tried in order after the path walk.
    patterns: Vec<Pattern>,
    /// The only handler CONNECT reaches. Its target is an authority (`host:port`), not a
    /// path, so a path handler (even the catch-all root) must never see it as one.
    connect: Option<Handler>,
    /// The test kit's mocks, tried before everything else. One registry for every version
    /// of the router (a clone shares it), so mocks survive handler changes.
    mocks: Arc<Registry>,
    /// Where requests nothing else answered go instead of a 404 (`forward_to`).
    forward: Option<Arc<Forwarder>>,
}

/// A regex handler pattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPattern {
    /// The pattern as given.
    pub pattern: String,
    /// What the regex engine said.
    pub reason: String,
}

impl std::fmt::Display for InvalidPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid handler pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for InvalidPattern {}

impl Router {
    pub(crate) fn set_request_hook(&mut self, hook: Handler) {
        self.request_hook = Some(hook);
    }

    pub(crate) fn set_connect_handler(&mut self, handler: Handler) {
        self.connect = Some(handler);
    }

    pub(crate) fn mocks(&self) -> &Arc<Registry> {
        &self.mocks
    }

    pub(crate) fn set_forward(&mut self, forward: Forwarder) {
        self.forward = Some(Arc::new(forward));
    }

    pub(crate) fn forward(&self) -> Option<&Arc<Forwarder>> {
        self.forward.as_ref()
    }

    /// Registers (or replaces) the path handler for `path` ("" is the root of every walk).
    pub(crate) fn add_path(&mut self, path: &str, handler: Handler) {
        self.paths.insert(path.trim_end_matches('/').to_owned(), handler);
    }

    pub(crate) fn remove_path(&mut self, path: &str) -> bool {
        self.paths.remove(path.trim_end_matches('/')).is_some()
    }

    /// Adds a regex handler at the end, or replaces the one with the same pattern in place.
    pub(crate) fn add_pattern(&mut self, pattern: &str, handler: Handler) -> Result<(), InvalidPattern> {
        let regex = Regex::new(pattern)
            .map_err(|error| InvalidPattern { pattern: pattern.to_owned(), reason: error.to_string() })?;
        let entry = Pattern { source: pattern.to_owned(), regex, handler };
        match self.patterns.iter_mut().find(|existing| existing.source == pattern) {
            Some(existing) => *existing = entry,
            None => self.patterns.push(entry),
        }
        Ok(())
    }

    /// Removes the regex handler registered with exactly this pattern.
    pub(crate) fn remove_pattern(&mut self, pattern: &str) -> bool {
        let before = self.patterns.len();
        self.patterns.retain(|existing| existing.source != pattern);
        self.patterns.len() != before
    }

    /// The patterns in the order they are tried.
    pub(crate) fn patterns(&self) -> Vec<String> {
        self.patterns.iter().map(|pattern| pattern.source.clone()).collect()
    }

    /// Finds the reply: a mock; the request hook; the path walk up to (not including) the
    /// root; the regex handlers in order; the root path handler `""`; else the upstream
    /// (`forward_to`) or 404. The root is a catch-all in HTTPD, like `""` in POEx, so it
    /// comes last when both styles are mixed. CONNECT goes to the CONNECT handler alone,
    /// or gets 501.
    pub(crate) async fn dispatch(&self, request: Request) -> Reply {
        if request.method() == http::Method::CONNECT {
            return match &self.connect {
                Some(handler) => match handler(request).await {
                    Outcome::Reply(reply) => reply,
                    Outcome::Pass => Reply::error(501, "CONNECT is not served here"),
                },
                None => Reply::error(501, "CONNECT is not served here"),
            };
        }
        // Boxed: the mock and forwarding futures are large and rare, and a future is
        // moved by value whole (its size in every request's state, copied at each move).
        let unmatched = if self.mocks.is_empty() {
            None
        } else {
            match Box::pin(self.mocks.answer(&request)).await {
                Answer::Reply(reply) => return reply,
                Answer::Unmatched(note) => note,
            }
        };
        let reply = self.route(request).await;
        if let Some(note) = unmatched {
            note.answered(reply.status());
        }
        reply
    }

    /// Everything after the mocks.
    async fn route(&self, request: Request) -> Reply {
        if let Some(hook) = &self.request_hook {
            if let Outcome::Reply(reply) = hook(request.clone()).await {
                return reply;
            }
        }
        let path = request.path();
        let specific =
            walk(path).filter(|segment| !segment.is_empty()).filter_map(|segment| self.paths.get(segment));
        let matching = self
            .patterns
            .iter()
            .filter(|pattern| pattern.regex.is_match(path))
            .map(|pattern| &pattern.handler);
        for handler in specific.chain(matching).chain(self.paths.get("")) {
            if let Outcome::Reply(reply) = handler(request.clone()).await {
                return reply;
            }
        }
        match &self.forward {
            Some(forward) => Box::pin(forward.forward(&request)).await,
            None => Reply::not_found(),
        }
    }
}

/// HTTPD's walk up a path: "/test/bla.jpg", then "/test", then "" (the root).
fn walk(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_end_matches('/');
    let mut next = Some(trimmed);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current.is_empty() { None } else { current.rfind('/').map(|slash| &current[..slash]) };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::walk;

    #[test]
    fn walks_up_to_the_root() {
        assert_eq!(walk("/test/bla.jpg").collect::<Vec<_>>(), ["/test/bla.jpg", "/test", ""]);
        assert_eq!(walk("/").collect::<Vec<_>>(), [""]);
        assert_eq!(walk("/a/").collect::<Vec<_>>(), ["/a", ""]);
        assert_eq!(walk("*").collect::<Vec<_>>(), ["*"]);
    }
}
