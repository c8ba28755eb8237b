//! The verification report: each mock's expected and received counts, and for each request
//! no mock matched, the closest mock and why its failing matchers failed.

use super::super::Request;
use http::StatusCode;
use std::collections::VecDeque;
use std::fmt;

/// How many unmatched requests the report keeps (the most recent; the count covers all).
pub(crate) const UNMATCHED_LIMIT: usize = 100;

/// One mock's line in the report.
pub(super) struct Row {
    pub(super) name: String,
    pub(super) expected: String,
    pub(super) hits: usize,
    pub(super) satisfied: bool,
}

/// The mock an unmatched request came closest to.
#[derive(Clone)]
pub(super) struct Closest {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) passed: usize,
    pub(super) total: usize,
    /// One line per failing matcher: what it expected and what arrived.
    pub(super) failures: Vec<String>,
    /// Every matcher passed, but the mock was used up after this many hits.
    pub(super) used_up: Option<usize>,
}

/// A request no mock matched.
#[derive(Clone)]
pub(super) struct Unmatched {
    method: String,
    target: String,
    connection_id: u64,
    /// What the routes answered (`None`: no reply, e.g. the handler panicked).
    pub(super) status: Option<StatusCode>,
    closest: Option<Closest>,
}

impl Unmatched {
    pub(super) fn new(request: &Request, closest: Option<Closest>) -> Self {
        Self {
            method: request.method().to_string(),
            target: request.target().to_owned(),
            connection_id: request.connection_id(),
            status: None,
            closest,
        }
    }

    pub(super) fn closest_id(&self) -> Option<u64> {
        self.closest.as_ref().map(|closest| closest.id)
    }
}

/// The most recent unmatched requests, and how many there were in all.
#[derive(Default)]
pub(super) struct UnmatchedLog {
    entries: VecDeque<Unmatched>,
    total: usize,
}

impl UnmatchedLog {
    pub(super) fn push(&mut self, unmatched: Unmatched) {
        if self.entries.len() == UNMATCHED_LIMIT {
            self.entries.pop_front();
        }
        self.entries.push_back(unmatched);
        self.total += 1;
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = &Unmatched> {
        self.entries.iter()
    }

    pub(super) fn total(&self) -> usize {
        self.total
    }
}

/// Some mock did not get the requests it expected. `Display` is the whole report.
///
/// ```text
/// 1 of 2 mocks not satisfied:
///   FAILED [create user] expected exactly 1 request, received 0
///   ok     [GET /health] expected any number of requests, received 3
/// 1 request matched no mock:
///   POST /users (connection 2) -> 404
///     closest mock: [create user], 2 of 3 matchers passed
///       json body: at .name expected "ada", got "bob"
/// ```
pub struct VerifyError {
    rows: Vec<Row>,
    unmatched: Vec<Unmatched>,
    /// All the unmatched requests, of which `unmatched` are the most recent.
    total: usize,
}

impl VerifyError {
    pub(super) fn new(rows: Vec<Row>, unmatched: Vec<Unmatched>, total: usize) -> Self {
        let total = total.max(unmatched.len());
        Self { rows, unmatched, total }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.rows.iter().filter(|row| !row.satisfied).count();
        writeln!(f, "{failed} of {} mocks not satisfied:", self.rows.len())?;
        for row in &self.rows {
            let mark = if row.satisfied { "ok    " } else { "FAILED" };
            writeln!(f, "  {mark} [{}] expected {}, received {}", row.name, row.expected, row.hits)?;
        }
        if self.unmatched.is_empty() {
            return Ok(());
        }
        let plural = if self.total == 1 { "request" } else { "requests" };
        if self.total > self.unmatched.len() {
            writeln!(
                f,
                "{} {plural} matched no mock (the last {} follow):",
                self.total,
                self.unmatched.len()
            )?;
        } else {
            writeln!(f, "{} {plural} matched no mock:", self.total)?;
        }
        for unmatched in &self.unmatched {
            let status =
                unmatched.status.map_or("(no reply)".to_owned(), |status| status.as_u16().to_string());
            writeln!(
                f,
                "  {} {} (connection {}) -> {status}",
                unmatched.method, unmatched.target, unmatched.connection_id
            )?;
            let Some(closest) = &unmatched.closest else { continue };
            match closest.used_up {
                Some(limit) => writeln!(
                    f,
                    "    closest mock: [{}], all {} matchers passed, but it was used up after {limit}",
                    closest.name, closest.total
                )?,
                None => writeln!(
                    f,
                    "    closest mock: [{}], {} of {} matchers passed",
                    closest.name, closest.passed, closest.total
                )?,
            }
            for failure in &closest.failures {
                writeln!(f, "      {failure}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for VerifyError {
    /// The report itself, so that `main() -> Result<..>` and `unwrap` show it readably.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}")
    }
}

impl std::error::Error for VerifyError {}

impl From<VerifyError> for std::io::Error {
    /// So that `server.verify()?` works in a test returning `io::Result`.
    fn from(error: VerifyError) -> Self {
        std::io::Error::other(error.to_string())
    }
}
