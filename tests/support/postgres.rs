//! A throwaway PostgreSQL server for tests and benchmarks: a fresh cluster in a temporary folder on a free
//! loopback port, stopped and deleted on drop.
//!
//! It uses the newest `/usr/lib/postgresql/*/bin` (the Debian `postgresql` package; `.ci/run` installs it).
//! initdb and postgres refuse to run as root, so as root the cluster belongs to the `postgres` user and the
//! programs run through `runuser -u postgres --`. Missing binaries are a panic with the fix, never a silent skip:
//! a test that did not run must not look like one that passed.
//!
//! Include it with `#[path = "support/postgres.rs"] mod postgres_server;`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The database every server is started with.
pub const TEST_DATABASE: &str = "benchtop_test";

/// A running PostgreSQL server of its own.
pub struct PgServer {
    postmaster: Child,
    root: tempfile::TempDir,
    data_dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

/// The newest installed PostgreSQL bin folder, or a panic that says how to install one.
pub fn bin_dir() -> PathBuf {
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests need a PostgreSQL server: no /usr/lib/postgresql/*/bin/initdb found; \
             install it with `apt-get install -y postgresql` (.ci/run does this)"
        ),
    }
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("running `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("running `id` for user postgres");
    assert!(
        out.status.success(),
        "running the tests as root needs a `postgres` user (the postgresql package makes one)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

impl PgServer {
    /// Creates a cluster, starts it without fsync (fast; a crash of the machine may lose it, which does not
    /// matter for a test) and creates [`TEST_DATABASE`].
    pub fn start() -> PgServer {
        PgServer::start_with_fsync(false)
    }

    /// Like [`PgServer::start`], with `fsync` on as in production, for benchmarks that should wait for the disk.
    pub fn start_with_fsync(fsync: bool) -> PgServer {
        let bin = bin_dir();
        let as_postgres_user = running_as_root();
        let root = tempfile::Builder::new().prefix("benchtop-pg-").tempdir_in("/tmp").unwrap();
        // The postgres user must reach the data folder inside.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let data_dir = root.path().join("data");
        fs::create_dir(&data_dir).unwrap();
        fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700)).unwrap();
        if as_postgres_user {
            std::os::unix::fs::chown(&data_dir, Some(id_of("-u")), Some(id_of("-g"))).unwrap();
        }

        let command = |program: &str| {
            let path = bin.join(program);
            if as_postgres_user {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(path);
                command
            } else {
                Command::new(path)
            }
        };

        let initdb = command("initdb")
            .args(["--auth=trust", "-U", "postgres", "--no-sync", "--encoding=UTF8", "--locale=C", "-D"])
            .arg(&data_dir)
            .output()
            .unwrap();
        assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));

        let port = free_port();
        let log = fs::File::create(root.path().join("postgres.log")).unwrap();
        let postmaster = command("postgres")
            .arg("-D")
            .arg(&data_dir)
            .arg("-k")
            .arg(&data_dir)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=50"])
            .args(["-c", if fsync { "fsync=on" } else { "fsync=off" }])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = PgServer { postmaster, root, data_dir, port, as_postgres_user };
        server.wait_ready();
        let mut admin = postgres::Client::connect(&server.admin_url(), postgres::NoTls).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {TEST_DATABASE}")).unwrap();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.postmaster.try_wait().unwrap() {
                panic!("postgres exited ({status}) while starting:\n{}", self.log());
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
                && postgres::Client::connect(&self.admin_url(), postgres::NoTls).is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "postgres did not accept connections within 20 s:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.path().join("postgres.log")).unwrap_or_default()
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of [`TEST_DATABASE`].
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{TEST_DATABASE}", self.port)
    }

    /// URL of the `postgres` maintenance database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates another empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut admin = postgres::Client::connect(&self.admin_url(), postgres::NoTls).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // As root the child is `runuser`, which does not pass signals on after a SIGKILL; stop the postmaster
        // itself (SIGQUIT = immediate shutdown), whose pid is the first line of postmaster.pid.
        let pid = fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned));
        match pid {
            Some(pid) => {
                let _ = Command::new("kill").args(["-QUIT", &pid]).status();
                let proc_path = PathBuf::from(format!("/proc/{pid}"));
                let deadline = Instant::now() + Duration::from_secs(10);
                while proc_path.exists() && Instant::now() < deadline {
                    if let Ok(Some(_)) = self.postmaster.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            None => {
                let _ = self.postmaster.kill();
            }
        }
        let _ = self.postmaster.kill();
        let _ = self.postmaster.wait();
    }
}
