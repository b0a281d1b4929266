//! Settings: flags, then environment variables (clap reads both), then a
//! TOML file, then defaults.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The TOML file's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Registry database.
    db: Option<String>,
    /// Listen address.
    addr: Option<String>,
}

/// Default database: a SQLite file in the working directory.
pub const DEFAULT_DB: &str = "pdva.db";
/// Default listen address: this machine only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

impl Config {
    /// Reads `path`, or `./pdva.toml` when it exists, or nothing.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let default = Path::new("pdva.toml");
        let path = match path {
            Some(p) => p,
            None if default.exists() => default,
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }

    /// The database: the flag or PDVA_DB if given, else the file's, else the default.
    pub fn db(&self, given: Option<String>) -> String {
        given
            .or_else(|| self.db.clone())
            .unwrap_or_else(|| DEFAULT_DB.to_owned())
    }

    /// The listen address, likewise.
    pub fn addr(&self, given: Option<String>) -> String {
        given
            .or_else(|| self.addr.clone())
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: Config = toml::from_str("db = \"site.db\"\naddr = \"0.0.0.0:9000\"").unwrap();
        assert_eq!(file.db(Some("flag.db".into())), "flag.db");
        assert_eq!(file.db(None), "site.db");
        assert_eq!(file.addr(None), "0.0.0.0:9000");
        let empty = Config::default();
        assert_eq!(empty.db(None), DEFAULT_DB);
        assert_eq!(empty.addr(None), DEFAULT_ADDR);
        assert!(toml::from_str::<Config>("dbb = 1").is_err());
    }
}
