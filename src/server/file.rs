//! Files: serving a file or a directory with HEAD, conditional requests and ranges.
