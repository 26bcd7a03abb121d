//! Large logs for benchmarks: N hosts, each an `Application.evtx` and a `System.evtx` of a requested
//! size, filled with the ordinary traffic of [`crate::noise`] and K incidents planted at known places
//! (evenly spaced by size), deterministic from a seed, with a `manifest.json` of what was planted.
//! A host's logs are produced a day at a time and streamed to the writer, so memory stays flat
//! whatever the size.

use crate::host::{Host, Lang, Pids, mailbox_cas_services};
use crate::incident::{self, Holder, Outcome};
use crate::noise::{self, Profile};
use crate::samples::{self, EXCHANGE_SHELL, ROLLUP_ERROR, ROLLUP_TITLE};
use chrono::{DateTime, Duration, TimeZone, Utc};
use evtriage_writer::xmltree::Element;
use evtriage_writer::{EvtxWriter, WriteSummary};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Folder to write into: one sub-folder per host, and manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Size of each host's two logs together (e.g. 64MiB, 1GiB, 4GiB).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub size: u64,
    /// Number of hosts (servers), each in its own folder.
    #[arg(long, default_value_t = 1)]
    pub hosts: u32,
    /// Incidents planted per host, evenly spaced through its logs.
    #[arg(long, default_value_t = 4)]
    pub incidents: u32,
    /// Seed for everything random; the same seed writes the same files.
    #[arg(long, default_value_t = 940006)]
    pub seed: u64,
    /// Traffic density: how many servers' worth of ordinary events each day holds.
    #[arg(long, default_value_t = 8)]
    pub busy: u32,
}

/// `1GiB`, `512MiB`, `100MB`, `4096` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("'{s}' is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}' (use KiB, MiB, GiB)")),
    };
    Ok((num * mult as f64) as u64)
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub seed: u64,
    pub size_per_host: u64,
    pub hosts: Vec<HostManifest>,
}

#[derive(Debug, Serialize)]
pub struct HostManifest {
    pub computer: String,
    pub dir: String,
    pub application: LogManifest,
    pub system: LogManifest,
    pub incidents: Vec<Planted>,
}

#[derive(Debug, Serialize, Default)]
pub struct LogManifest {
    pub file: String,
    pub records: u64,
    pub chunks: u64,
    pub bytes: u64,
}

/// An incident and what a correct diagnosis of it says.
#[derive(Debug, Serialize, Clone)]
pub struct Planted {
    pub kind: &'static str,
    pub started: DateTime<Utc>,
    pub signature: &'static str,
    pub status: &'static str,
    pub update: String,
    pub locked_files: Vec<(String, String, u32)>,
    pub disabled_services: Vec<String>,
}

#[derive(Clone, Copy)]
/// The rollup incidents planted in large logs.
enum Kind {
    FailedThenRestored,
    SucceededRestartPending,
    FailedUnresolved,
}

impl Kind {
    fn planted(self, started: DateTime<Utc>, holder: &Holder) -> Planted {
        let services = mailbox_cas_services();
        let (kind, signature, status, disabled) = match self {
            Kind::FailedThenRestored => (
                "rollup-failed-then-restored",
                "exchange-rollup-file-in-use",
                "resolved",
                true,
            ),
            Kind::FailedUnresolved => (
                "rollup-failed",
                "exchange-rollup-file-in-use",
                "unresolved",
                true,
            ),
            Kind::SucceededRestartPending => (
                "rollup-succeeded-restart-pending",
                "restart-pending",
                "info",
                false,
            ),
        };
        Planted {
            kind,
            started,
            signature,
            status,
            update: ROLLUP_TITLE.to_string(),
            locked_files: vec![(
                holder.file.to_string(),
                holder.process.to_string(),
                holder.pid,
            )],
            disabled_services: if disabled {
                services.iter().map(|s| s.key.to_string()).collect()
            } else {
                Vec::new()
            },
        }
    }
}

pub fn run(options: &Options) -> Result<Manifest, String> {
    fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let hosts: Result<Vec<HostManifest>, String> = (0..options.hosts)
        .into_par_iter()
        .map(|i| write_host(options, i))
        .collect();
    let manifest = Manifest {
        seed: options.seed,
        size_per_host: options.size,
        hosts: hosts?,
    };
    let path = options.out.join("manifest.json");
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(manifest)
}

struct Log {
    writer: EvtxWriter<BufWriter<File>>,
    target: u64,
    written_bytes: u64,
    path: PathBuf,
}

impl Log {
    fn create(path: PathBuf, target: u64) -> Result<Self, String> {
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let writer = EvtxWriter::new(BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Log {
            writer,
            target,
            written_bytes: 0,
            path,
        })
    }

    fn full(&self) -> bool {
        self.written_bytes >= self.target
    }

    fn write(&mut self, events: Vec<Element>) -> Result<(), String> {
        for e in events {
            self.writer
                .write_event(&e)
                .map_err(|err| format!("{}: {err}", self.path.display()))?;
        }
        // Chunk count is what the file size follows; records only approximate it.
        self.written_bytes = self.writer.bytes_so_far();
        Ok(())
    }

    fn finish(self, dir: &Path) -> Result<LogManifest, String> {
        let (_, s): (_, WriteSummary) = self
            .writer
            .finish()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(LogManifest {
            file: self
                .path
                .strip_prefix(dir)
                .unwrap_or(&self.path)
                .display()
                .to_string(),
            records: s.records,
            chunks: s.chunks,
            bytes: s.bytes,
        })
    }
}

fn write_host(options: &Options, index: u32) -> Result<HostManifest, String> {
    let computer = format!("EX{:04}.contoso.local", index + 1);
    let dir_name = format!("host{:04}", index + 1);
    let dir = options.out.join(&dir_name);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ (u64::from(index) << 32));
    let half = options.size / 2;
    let mut app = Log::create(dir.join("Application.evtx"), half)?;
    let mut sys = Log::create(dir.join("System.evtx"), options.size - half)?;

    let pids = Pids {
        services: 492 + rng.random_range(0..8) * 4,
        wu: 900 + rng.random_range(0..40) * 4,
        msiserver: 2800 + rng.random_range(0..100) * 4,
        w32time: 1000 + rng.random_range(0..40) * 4,
    };
    let admin = format!(
        "S-1-5-21-1004336348-1177238915-682003330-{}",
        1100 + index % 400
    );
    let mut day = Utc
        .with_ymd_and_hms(2011, 10, 10, 0, 0, 0)
        .single()
        .expect("valid")
        + Duration::days(i64::from(index % 97));
    let (mut app_id, mut sys_id) = (1u64, 1u64);
    let mut planted = Vec::new();
    let mut next_incident = 0u32;
    // Exchange is down from an unresolved failure to the end of the logs.
    let mut down_since: Option<DateTime<Utc>> = None;

    while !(app.full() && sys.full()) {
        let mut host = Host::new(&computer, Lang::English, &admin, pids, app_id, sys_id);
        let (from, to) = (day, day + Duration::days(1));
        let mut running = vec![(from, to)];
        // Plant the next incident once both logs have reached its share of their targets, so that
        // it lands inside both (a log that is already full still takes the incident's day).
        let progress =
            |log: &Log| log.written_bytes * u64::from(options.incidents + 1) / log.target.max(1);
        let due = options.incidents > next_incident
            && progress(&app).min(progress(&sys)) > u64::from(next_incident);
        if let Some(since) = down_since {
            running = vec![(from, from.max(since))];
        } else if due {
            let kind = if next_incident + 1 == options.incidents {
                Kind::FailedUnresolved
            } else if next_incident.is_multiple_of(2) {
                Kind::FailedThenRestored
            } else {
                Kind::SucceededRestartPending
            };
            let t0 = from + Duration::hours(3) + Duration::seconds(rng.random_range(0..600));
            let holder = Holder {
                pid: 2000 + rng.random_range(0..1500) * 4,
                ..EXCHANGE_SHELL
            };
            let services = mailbox_cas_services();
            let rollup = samples::exchange_rollup(ROLLUP_TITLE);
            let failure = Outcome::FailsOnFileInUse {
                installer_error: ROLLUP_ERROR,
                log_file: "C:\\Windows\\TEMP\\MSI4f2a1.LOG",
            };
            match kind {
                Kind::FailedThenRestored => {
                    incident::install(
                        &mut host,
                        t0,
                        &rollup,
                        &services,
                        std::slice::from_ref(&holder),
                        &failure,
                    );
                    let restored = t0 + Duration::hours(4);
                    incident::admin_restores(&mut host, restored, &services);
                    running = vec![
                        (from, t0 + Duration::seconds(60)),
                        (restored + Duration::minutes(12), to),
                    ];
                }
                Kind::SucceededRestartPending => {
                    incident::install(
                        &mut host,
                        t0,
                        &rollup,
                        &services,
                        std::slice::from_ref(&holder),
                        &Outcome::SucceedsRestartPending,
                    );
                    running = vec![
                        (from, t0 + Duration::seconds(60)),
                        (t0 + Duration::minutes(20), to),
                    ];
                }
                Kind::FailedUnresolved => {
                    incident::install(
                        &mut host,
                        t0,
                        &rollup,
                        &services,
                        std::slice::from_ref(&holder),
                        &failure,
                    );
                    running = vec![(from, t0 + Duration::seconds(60))];
                    down_since = Some(t0 + Duration::seconds(60));
                }
            }
            planted.push(kind.planted(t0, &holder));
            next_incident += 1;
        }
        for pass in 0..options.busy.max(1) {
            let profile = Profile {
                exchange_running: if pass == 0 {
                    running.clone()
                } else {
                    Vec::new()
                },
                windows_updates: pass == 0 && day.timestamp() % 7 == 0,
                installs: pass == 0,
            };
            noise::fill(&mut host, &mut rng, from, to, &profile);
        }
        let (a, s) = (host.app.into_events(), host.sys.into_events());
        // A log that reached its size stops growing (its record IDs with it, so they stay
        // contiguous); a day with an incident is written to both logs regardless.
        if !app.full() || due {
            app_id += a.len() as u64;
            app.write(a)?;
        }
        if !sys.full() || due {
            sys_id += s.len() as u64;
            sys.write(s)?;
        }
        day = to;
    }
    Ok(HostManifest {
        computer,
        dir: dir_name,
        application: app.finish(&options.out)?,
        system: sys.finish(&options.out)?,
        incidents: planted,
    })
}

#[derive(Debug, Clone, clap::Args)]
pub struct EvtOptions {
    /// The .evt file to write (name it SysEvent.Evt for a System log).
    #[arg(long)]
    pub out: PathBuf,
    /// Its size (e.g. 64MiB, 1GiB).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub size: u64,
    /// Seed for everything random; the same seed writes the same file.
    #[arg(long, default_value_t = 940006)]
    pub seed: u64,
}

/// A large classic .evt as Event Viewer saves it: a Server 2003 Exchange server's ordinary System
/// and Application traffic (SCM state changes, Exchange's topology discovery, ESE), then the KB
/// 940006 failure of `samples/kb940006-server2003`, both logs' records in time order. Records are
/// encoded and streamed one at a time; the header is written last.
pub fn write_evt(options: &EvtOptions) -> Result<(), String> {
    use evtriage_writer::evt::EvtRecord;
    use std::io::{Seek, SeekFrom, Write};
    let fail = |e: std::io::Error| format!("{}: {e}", options.out.display());
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let incident = crate::legacy::server2003();
    let mut planted: Vec<Element> = incident
        .application
        .into_iter()
        .chain(incident.system)
        .collect();
    let time_of = |e: &Element| {
        e.find("System")
            .and_then(|s| s.find("TimeCreated"))
            .and_then(|t| t.get_attr("SystemTime"))
            .and_then(evtriage::values::parse_system_time)
    };
    planted.sort_by_key(|e| time_of(e));
    let planted: Vec<EvtRecord> =
        evtriage_writer::evt::records_of(&planted).map_err(|e| format!("planted incident: {e}"))?;
    let planted_bytes: u64 = planted.iter().map(|r| r.encode().len() as u64).sum();
    let start = planted.first().map_or(0, |r| r.time);
    const ROUTINE: &[&str] = &[
        "WinHTTP Web Proxy Auto-Discovery Service",
        "Removable Storage",
        "WMI Performance Adapter",
        "Background Intelligent Transfer Service",
        "Help and Support",
        "Application Experience Lookup Service",
    ];
    let file = File::create(&options.out).map_err(fail)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&[0u8; 0x30]).map_err(fail)?;
    let mut written = 0x30u64;
    let budget = options.size.saturating_sub(0x30 + 0x28 + planted_bytes);
    let mut number = 1u32;
    // Ordinary traffic runs up to the incident, a few seconds apart, streamed as it is made.
    let mut t = start.saturating_sub((budget / 180).saturating_mul(3) as u32 + 100);
    let mut noise_bytes = 0u64;
    while noise_bytes < budget {
        let r = match rng.random_range(0..10) {
            0..=5 => {
                let running = rng.random_bool(0.5);
                EvtRecord {
                    number,
                    time: t,
                    event_id: 0x4000_1B7C,
                    event_type: 4,
                    category: 0,
                    source: "Service Control Manager".into(),
                    computer: "EXCH07MBX1".into(),
                    sid: None,
                    strings: vec![
                        ROUTINE[rng.random_range(0..ROUTINE.len())].into(),
                        if running { "running" } else { "stopped" }.into(),
                    ],
                    data: Vec::new(),
                }
            }
            6..=8 => EvtRecord {
                number,
                time: t,
                event_id: 0x4000_0820,
                event_type: 4,
                category: 0,
                source: "MSExchange ADAccess".into(),
                computer: "EXCH07MBX1".into(),
                sid: None,
                strings: vec![
                    format!("MAD.EXE ({})", 1800 + rng.random_range(0..200)),
                    "Exchange Active Directory Provider has discovered the following servers with the following characteristics: DC01.contoso.local CDG 1 7 7 1 0 1 1 7 1".into(),
                ],
                data: Vec::new(),
            },
            _ => EvtRecord {
                number,
                time: t,
                event_id: 0x4000_1B7B,
                event_type: 4,
                category: 0,
                source: "Service Control Manager".into(),
                computer: "EXCH07MBX1".into(),
                // S-1-5-18
                sid: Some(vec![1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]),
                strings: vec![ROUTINE[rng.random_range(0..ROUTINE.len())].into(), "start".into()],
                data: Vec::new(),
            },
        };
        let b = r.encode();
        out.write_all(&b).map_err(fail)?;
        noise_bytes += b.len() as u64;
        written += b.len() as u64;
        number += 1;
        t = (t + rng.random_range(1..6)).min(start.saturating_sub(1));
    }
    for mut r in planted {
        r.number = number;
        number += 1;
        let b = r.encode();
        out.write_all(&b).map_err(fail)?;
        written += b.len() as u64;
    }
    let end = u32::try_from(written).map_err(|_| "a .evt holds at most 4 GiB".to_string())?;
    let eof = evtriage_writer::evt::eof_record(0x30, end, number, 1);
    out.write_all(&eof).map_err(fail)?;
    let size = end + 0x28;
    let header = evtriage_writer::evt::header(0x30, end, number, 1, size, 0);
    let mut file = out.into_inner().map_err(|e| fail(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(fail)?;
    file.write_all(&header).map_err(fail)?;
    eprintln!(
        "{}: {} records, {size} bytes",
        options.out.display(),
        number - 1
    );
    Ok(())
}
