//! The one error type of the store boundary.

use std::fmt;

/// Which database engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, for production and shared deployments.
    Postgres,
    /// SQLite, the embedded default.
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        })
    }
}

/// Everything that can go wrong in the store.
///
/// Messages never contain database passwords: URLs are redacted with [`redact_url`] before
/// they are put into an error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (connection refused or reset, server shutting
    /// down, pool timeout, SQLite busy). Retrying later may succeed.
    #[error("{backend} database unavailable: {reason}")]
    Unavailable { backend: Backend, reason: String },

    /// The database URL is malformed or names an unsupported scheme.
    #[error("invalid database URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    /// A record that must exist for the operation does not.
    #[error("{kind} '{id}' not found")]
    NotFound { kind: &'static str, id: String },

    /// The edit function passed to `update_settings` refused the current settings.
    #[error("settings edit for VM '{vm_cid}' rejected: {reason}")]
    EditRejected { vm_cid: String, reason: String },

    /// A stored value does not parse (for example settings that are not JSON).
    #[error("corrupt {what} in the database: {reason}")]
    Corrupt { what: String, reason: String },

    /// Applying the embedded migrations failed.
    #[error("{backend} migration failed: {reason}")]
    Migration { backend: Backend, reason: String },

    /// Any other database failure (constraint violation, SQL error).
    #[error("{backend} database error: {reason}")]
    Database { backend: Backend, reason: String },
}

impl StoreError {
    /// Whether the failure is transient, so the caller may retry or report "try again".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// Classifies a sqlx error. Connection-level failures become [`StoreError::Unavailable`].
    pub(crate) fn from_sqlx(backend: Backend, error: sqlx::Error) -> Self {
        let reason = error.to_string();
        let unavailable = match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                let code: &str = &code;
                match backend {
                    // Class 08 is "connection exception"; 57P01-57P03 are admin/crash shutdown
                    // and "cannot connect now" (server starting); 53300 is too many connections.
                    Backend::Postgres => {
                        code.starts_with("08") || code.starts_with("57P") || code == "53300"
                    }
                    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), also in their extended forms.
                    Backend::Sqlite => code
                        .parse::<i64>()
                        .is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6),
                }
            }),
            _ => false,
        };
        if unavailable {
            let reason = match error {
                sqlx::Error::PoolTimedOut => {
                    "timed out waiting for a database connection (is the server running?)"
                        .to_string()
                }
                _ => reason,
            };
            StoreError::Unavailable { backend, reason }
        } else {
            StoreError::Database { backend, reason }
        }
    }
}

/// Returns `url` with any password replaced by `***`, for logs and error messages.
///
/// Unparseable input is not echoed at all, because it might still hold a password.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "<database URL>".to_string();
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable database URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_password_and_keeps_the_rest() {
        let redacted = redact_url("postgres://cpi:s3cr3t-pw@db.example:5432/cpi?sslmode=disable");
        assert_eq!(
            redacted,
            "postgres://cpi:***@db.example:5432/cpi?sslmode=disable"
        );
        assert!(!redacted.contains("s3cr3t"));
    }

    #[test]
    fn redact_url_leaves_passwordless_urls_alone() {
        assert_eq!(
            redact_url("postgres://cpi@127.0.0.1/cpi"),
            "postgres://cpi@127.0.0.1/cpi"
        );
        assert_eq!(
            redact_url("sqlite:///var/db.sqlite"),
            "sqlite:///var/db.sqlite"
        );
    }

    #[test]
    fn redact_url_does_not_echo_garbage() {
        let redacted = redact_url("not a url with password hunter2");
        assert!(!redacted.contains("hunter2"));
    }

    #[test]
    fn pool_timeout_is_unavailable() {
        let error = StoreError::from_sqlx(Backend::Postgres, sqlx::Error::PoolTimedOut);
        assert!(error.is_unavailable());
        assert!(
            error
                .to_string()
                .contains("PostgreSQL database unavailable")
        );
    }

    #[test]
    fn row_not_found_is_not_unavailable() {
        let error = StoreError::from_sqlx(Backend::Sqlite, sqlx::Error::RowNotFound);
        assert!(!error.is_unavailable());
    }
}
