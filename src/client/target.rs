//! Where a connection goes: scheme, host and port, as a custom connector is told.

use std::fmt;

/// Where a connection should go: handed to a custom [`Connector`](crate::Connector).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// A host name, or an IP literal without brackets (`::1`, `127.0.0.1`).
    pub host: String,
    /// The port, with the scheme's default filled in.
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}
