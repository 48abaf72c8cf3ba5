//! Where the browser finds the build's files. Every file of a build (the client under
//! `pkg/`, its split chunks, styles, favicon, boot script) is served under one prefix that
//! names the build, `/v/<build>/`, so a file's URL never changes meaning: browsers and
//! proxies may keep it for good, and a page rendered by one build never loads another
//! build's chunk under the same name.

/// The URL prefix of the running build's files, without a trailing slash (`/v/3fa9…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assets {
    prefix: String,
}

impl Assets {
    /// The prefix for a build id (letters and digits, as the server derives it).
    pub fn for_build(build: &str) -> Self {
        Self {
            prefix: format!("/v/{build}"),
        }
    }

    /// The prefix itself, as `HydrationScripts` takes its `root`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL of one site file, `file` relative to the site root (`pkg/orchard.css`).
    pub fn url(&self, file: &str) -> String {
        format!("{}/{file}", self.prefix)
    }
}
