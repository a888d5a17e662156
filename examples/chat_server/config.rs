//! Command-line flags. Plain `std::env::args`: nine flags do not justify a CLI dependency.

use std::path::PathBuf;
use std::time::Duration;

/// What `--help` prints.
pub const USAGE: &str = "\
usage: chat_server [flags]

  --addr HOST:PORT         chat listener (default 127.0.0.1:7878; port 0 picks a free one)
  --admin-addr HOST:PORT   admin HTTP: /readyz /livez /metrics (default 127.0.0.1:7879; `off` disables)
  --db PATH                SQLite file for /history (default chat.sqlite)
  --rate N                 messages per second per client, burst 2N (default 20)
  --max-line BYTES         longest line accepted, counted before the newline (default 4096)
  --max-clients N          connections served at once; more get `! server full` (default 512)
  --queue N                outbound queue per client; a full one means a slow consumer (default 1024)
  --drain-timeout SECS     how long a graceful shutdown waits for output to flush (default 10)
  --nick-grace SECS        how long a released nick stays reserved (default 30)

Logs go to stderr; RUST_LOG=debug shows every connection.";

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    /// `None`: no admin port.
    pub admin_addr: Option<String>,
    pub db: PathBuf,
    /// Tokens per second per client; the bucket holds `2 * rate`.
    pub rate: u64,
    pub max_line: usize,
    pub max_clients: usize,
    pub queue: usize,
    pub drain_timeout: Duration,
    /// A socket write that makes no progress for this long marks the client too slow. Shorter
    /// than the drain timeout, so one stuck client cannot hold a shutdown to its limit.
    pub write_timeout: Duration,
    pub nick_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:7878".into(),
            admin_addr: Some("127.0.0.1:7879".into()),
            db: PathBuf::from("chat.sqlite"),
            rate: 20,
            max_line: 4096,
            max_clients: 512,
            queue: 1024,
            drain_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            nick_grace: Duration::from_secs(30),
        }
    }
}

/// What the command line asked for.
pub enum Parsed {
    Run(Config),
    Help,
}

impl Config {
    /// Parses flags (`--flag value` or `--flag=value`); the error says which one is wrong.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
        let mut config = Config::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(Parsed::Help);
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--addr" => config.addr = value()?,
                "--admin-addr" => {
                    let v = value()?;
                    config.admin_addr = (v != "off").then_some(v);
                }
                "--db" => config.db = PathBuf::from(value()?),
                "--rate" => config.rate = positive(&flag, &value()?)?,
                "--max-line" => config.max_line = positive(&flag, &value()?)?,
                "--max-clients" => config.max_clients = positive(&flag, &value()?)?,
                "--queue" => config.queue = positive(&flag, &value()?)?,
                "--drain-timeout" => config.drain_timeout = seconds(&flag, &value()?)?,
                "--nick-grace" => config.nick_grace = seconds(&flag, &value()?)?,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        // A drain shorter than the write timeout would be cut off by its own stuck writers.
        config.write_timeout =
            (config.write_timeout.min(config.drain_timeout / 2)).max(Duration::from_millis(100));
        Ok(Parsed::Run(config))
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(flag: &str, v: &str) -> Result<T, String> {
    match v.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(format!("{flag} wants a positive integer, got {v:?}")),
    }
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{flag} wants seconds, got {v:?}"))
}
