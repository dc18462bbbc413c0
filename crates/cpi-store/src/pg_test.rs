//! A throwaway PostgreSQL cluster for tests, started from the system's binaries (no Docker).
//!
//! [`TempCluster::start`] runs `initdb` into a temporary directory and starts `postgres` on
//! 127.0.0.1 with a free port, trust authentication, fsync off and its Unix socket inside the
//! directory. PostgreSQL refuses to run as root, so when the tests run as root every command
//! runs as the `postgres` user through `runuser`, and the directory is handed to that user.
//! The server is stopped and the directory removed on drop.
//!
//! [`TempCluster::stop`] and [`TempCluster::resume`] stop and restart the same server on the
//! same data directory and port, for outage tests. Each test should use its own database from
//! [`TempCluster::create_database`].
//!
//! The binaries are taken from `CPI_TEST_PG_BIN` if set, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else `PATH`. These functions block; they are meant for
//! test setup.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Connection;

/// A running temporary PostgreSQL server. See the module documentation.
#[derive(Debug)]
pub struct TempCluster {
    dir: tempfile::TempDir,
    bin_dir: Option<PathBuf>,
    port: u16,
    run_as_postgres: bool,
    running: AtomicBool,
}

fn other(message: String) -> io::Error {
    io::Error::other(message)
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CPI_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Looks up the uid and gid of the `postgres` account in /etc/passwd.
fn postgres_account() -> io::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() == Some(&"postgres") && fields.len() > 3 {
                Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
            } else {
                None
            }
        })
        .ok_or_else(|| {
            other(
                "tests run as root but there is no 'postgres' user (apt-get install postgresql)"
                    .into(),
            )
        })
}

fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl TempCluster {
    /// Creates and starts a new cluster.
    pub fn start() -> io::Result<TempCluster> {
        // The owner of /proc/self is the effective uid of this process.
        let run_as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        let dir = tempfile::Builder::new().prefix("cpi-pg-").tempdir()?;
        if run_as_postgres {
            let (uid, gid) = postgres_account()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let cluster = TempCluster {
            dir,
            bin_dir: find_bin_dir(),
            port: free_port()?,
            run_as_postgres,
            running: AtomicBool::new(false),
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.resume()?;
        Ok(cluster)
    }

    /// A URL for the `postgres` database as the superuser `postgres` (no password).
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// A URL for database `name` on this cluster.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The TCP port the server listens on (stable across stop and resume).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a fresh database with a unique name and returns its URL.
    pub async fn create_database(&self) -> io::Result<String> {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&self.url())
            .await
            .map_err(|e| other(format!("cannot connect to the test cluster: {e}")))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .map_err(|e| other(format!("cannot create database {name}: {e}")))?;
        let _ = conn.close().await;
        Ok(self.database_url(&name))
    }

    /// Stops the server (fast shutdown: open connections are terminated).
    pub fn stop(&self) -> io::Result<()> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["-D", path_str(&data)?, "-m", "fast", "-w", "stop"],
        )?;
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Starts the server again on the same data directory and port, waiting until it
    /// accepts connections.
    pub fn resume(&self) -> io::Result<()> {
        let data = self.data_dir();
        let log = self.dir.path().join("postgres.log");
        let server_options = format!(
            "-h 127.0.0.1 -p {} -k {} -F -c max_connections=300",
            self.port,
            path_str(self.dir.path())?
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-w",
                "-t",
                "60",
                "-o",
                &server_options,
                "start",
            ],
        )?;
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn program(&self, name: &str) -> PathBuf {
        match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    fn run(&self, name: &str, args: &[&str]) -> io::Result<()> {
        let program = self.program(name);
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        // Run from the cluster directory: the postgres user may not be able to enter ours.
        command.args(args).current_dir(self.dir.path());
        let output = command
            .output()
            .map_err(|e| other(format!("cannot run {}: {e}", program.display())))?;
        if output.status.success() {
            Ok(())
        } else {
            let log =
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            Err(other(format!(
                "{} {:?} failed ({}): {}{}\nserver log:\n{log}",
                program.display(),
                args,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            )))
        }
    }
}

fn path_str(path: &Path) -> io::Result<&str> {
    path.to_str()
        .ok_or_else(|| other(format!("non-UTF-8 path {}", path.display())))
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.running.load(Ordering::SeqCst) {
            // Immediate shutdown: the data is thrown away anyway.
            if let Ok(data) = path_str(&self.data_dir()) {
                let data = data.to_string();
                let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
            }
        }
    }
}
