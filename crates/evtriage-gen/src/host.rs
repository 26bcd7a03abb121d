//! One simulated server: its identity (name, language, Exchange services) and its two logs as
//! timelines. Events are collected with the moment Windows wrote them and numbered in that order
//! when the logs are written, so classic whole-second records can carry a time slightly earlier than
//! records written before them, as real logs do (`domain.md` §2.1.1, observation b).

use crate::events::{self, Stamp};
use chrono::{DateTime, Duration, Utc};
use evtriage_writer::xmltree::Element;

/// Language of the start-type and state strings that Service Control Manager stores in its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    English,
    Japanese,
}

impl Lang {
    pub fn start_type(self, t: StartType) -> &'static str {
        match (self, t) {
            (Lang::English, StartType::Auto) => "auto start",
            (Lang::English, StartType::Demand) => "demand start",
            (Lang::English, StartType::Disabled) => "disabled",
            (Lang::Japanese, StartType::Auto) => "自動的な開始",
            (Lang::Japanese, StartType::Demand) => "要求による開始",
            (Lang::Japanese, StartType::Disabled) => "無効",
        }
    }

    pub fn state(self, running: bool) -> &'static str {
        match (self, running) {
            (Lang::English, true) => "running",
            (Lang::English, false) => "stopped",
            (Lang::Japanese, true) => "実行中",
            (Lang::Japanese, false) => "停止",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartType {
    Auto,
    Demand,
    Disabled,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub key: &'static str,
    pub display: &'static str,
    pub start: StartType,
}

const fn svc(key: &'static str, display: &'static str, start: StartType) -> Service {
    Service {
        key,
        display,
        start,
    }
}

/// Exchange 2007 services of a Mailbox + Client Access server (`domain.md` §4.1), in the order a
/// rollup stops them: dependants first, Active Directory Topology last.
pub fn mailbox_cas_services() -> Vec<Service> {
    use StartType::*;
    vec![
        svc(
            "MSExchangeMonitoring",
            "Microsoft Exchange Monitoring",
            Demand,
        ),
        svc("MSExchangePOP3", "Microsoft Exchange POP3", Demand),
        svc("MSExchangeIMAP4", "Microsoft Exchange IMAP4", Demand),
        svc(
            "MSExchangeMailboxAssistants",
            "Microsoft Exchange Mailbox Assistants",
            Auto,
        ),
        svc(
            "MSExchangeMailSubmission",
            "Microsoft Exchange Mail Submission",
            Auto,
        ),
        svc(
            "MSExchangeSearch",
            "Microsoft Exchange Search Indexer",
            Auto,
        ),
        svc("msftesql-Exchange", "Microsoft Search (Exchange)", Auto),
        svc(
            "MSExchangeRepl",
            "Microsoft Exchange Replication Service",
            Auto,
        ),
        svc(
            "MSExchangeTransportLogSearch",
            "Microsoft Exchange Transport Log Search",
            Auto,
        ),
        svc(
            "MSExchangeServiceHost",
            "Microsoft Exchange Service Host",
            Auto,
        ),
        svc(
            "MSExchangeFDS",
            "Microsoft Exchange File Distribution",
            Auto,
        ),
        svc("MSExchangeIS", "Microsoft Exchange Information Store", Auto),
        svc("MSExchangeSA", "Microsoft Exchange System Attendant", Auto),
        svc(
            "MSExchangeADTopology",
            "Microsoft Exchange Active Directory Topology Service",
            Auto,
        ),
    ]
}

/// What Exchange Server 2019 setup disables on a Mailbox server while a security update installs,
/// in the order it disables them: the Exchange services with their default start types, the Search
/// Host Controller, Windows Server Backup's Exchange extension, and the Windows services setup stops
/// alongside its own (`domain.md` §4.1-4.2 and the 7040 list of dsccommunity/ExchangeDsc issue 496:
/// WMI, Remote Registry, Performance Logs & Alerts, the World Wide Web Publishing Service). The
/// Exchange 2019 key and display names and default start types are recalled, not confirmed by a
/// reference (RECON): evtriage's diagnosis reads them from the records, never from this list.
pub fn exchange2019_mailbox_services() -> Vec<Service> {
    use StartType::*;
    vec![
        svc(
            "MSExchangeADTopology",
            "Microsoft Exchange Active Directory Topology",
            Auto,
        ),
        svc(
            "MSExchangeAntispamUpdate",
            "Microsoft Exchange Anti-spam Update",
            Auto,
        ),
        svc(
            "MSComplianceAudit",
            "Microsoft Exchange Compliance Audit",
            Auto,
        ),
        svc(
            "MSExchangeCompliance",
            "Microsoft Exchange Compliance Service",
            Auto,
        ),
        svc(
            "MSExchangeDagMgmt",
            "Microsoft Exchange DAG Management",
            Auto,
        ),
        svc(
            "MSExchangeDiagnostics",
            "Microsoft Exchange Diagnostics",
            Auto,
        ),
        svc("MSExchangeEdgeSync", "Microsoft Exchange EdgeSync", Auto),
        svc("MSExchangeFastSearch", "Microsoft Exchange Search", Auto),
        svc(
            "MSExchangeFrontEndTransport",
            "Microsoft Exchange Frontend Transport",
            Auto,
        ),
        svc("MSExchangeHM", "Microsoft Exchange Health Manager", Auto),
        svc(
            "MSExchangeHMRecovery",
            "Microsoft Exchange Health Manager Recovery",
            Auto,
        ),
        svc("MSExchangeImap4", "Microsoft Exchange IMAP4", Demand),
        svc(
            "MSExchangeIMAP4BE",
            "Microsoft Exchange IMAP4 Backend",
            Demand,
        ),
        svc("MSExchangeIS", "Microsoft Exchange Information Store", Auto),
        svc(
            "MSExchangeMailboxAssistants",
            "Microsoft Exchange Mailbox Assistants",
            Auto,
        ),
        svc(
            "MSExchangeMailboxReplication",
            "Microsoft Exchange Mailbox Replication",
            Auto,
        ),
        svc(
            "MSExchangeDelivery",
            "Microsoft Exchange Mailbox Transport Delivery",
            Auto,
        ),
        svc(
            "MSExchangeSubmission",
            "Microsoft Exchange Mailbox Transport Submission",
            Auto,
        ),
        svc("MSExchangePop3", "Microsoft Exchange POP3", Demand),
        svc(
            "MSExchangePOP3BE",
            "Microsoft Exchange POP3 Backend",
            Demand,
        ),
        svc("MSExchangeRepl", "Microsoft Exchange Replication", Auto),
        svc(
            "MSExchangeRPC",
            "Microsoft Exchange RPC Client Access",
            Auto,
        ),
        svc(
            "MSExchangeServiceHost",
            "Microsoft Exchange Service Host",
            Auto,
        ),
        svc("MSExchangeTransport", "Microsoft Exchange Transport", Auto),
        svc(
            "HostControllerService",
            "Microsoft Exchange Search Host Controller",
            Auto,
        ),
        svc(
            "wsbexchange",
            "Microsoft Exchange Server Extension for Windows Server Backup",
            Demand,
        ),
        svc("WinMgmt", "Windows Management Instrumentation", Auto),
        svc("W3SVC", "World Wide Web Publishing Service", Auto),
    ]
}

/// Exchange 2007 services of a Hub Transport server.
pub fn hub_services() -> Vec<Service> {
    use StartType::*;
    vec![
        svc(
            "MSExchangeMonitoring",
            "Microsoft Exchange Monitoring",
            Demand,
        ),
        svc("MSExchangeEdgeSync", "Microsoft Exchange EdgeSync", Auto),
        svc(
            "MSExchangeAntispamUpdate",
            "Microsoft Exchange Anti-spam Update",
            Auto,
        ),
        svc(
            "MSExchangeTransportLogSearch",
            "Microsoft Exchange Transport Log Search",
            Auto,
        ),
        svc("MSExchangeTransport", "Microsoft Exchange Transport", Auto),
        svc(
            "MSExchangeServiceHost",
            "Microsoft Exchange Service Host",
            Auto,
        ),
        svc(
            "MSExchangeADTopology",
            "Microsoft Exchange Active Directory Topology Service",
            Auto,
        ),
    ]
}

struct Pending {
    written: DateTime<Utc>,
    seq: u64,
    event: Element,
}

/// A log under construction.
pub struct Timeline {
    pub first_record_id: u64,
    pending: Vec<Pending>,
    seq: u64,
}

impl Timeline {
    pub fn new(first_record_id: u64) -> Self {
        Timeline {
            first_record_id,
            pending: Vec::new(),
            seq: 0,
        }
    }

    pub fn push(&mut self, written: DateTime<Utc>, event: Element) {
        self.seq += 1;
        self.pending.push(Pending {
            written,
            seq: self.seq,
            event,
        });
    }

    /// The events in write order, numbered from `first_record_id`.
    pub fn into_events(mut self) -> Vec<Element> {
        self.pending.sort_by_key(|p| (p.written, p.seq));
        self.pending
            .into_iter()
            .enumerate()
            .map(|(i, mut p)| {
                events::set_record_id(&mut p.event, self.first_record_id + i as u64);
                p.event
            })
            .collect()
    }

    /// The log wrapped: records written before `t` were overwritten. Those that remain keep the
    /// numbers they had.
    pub fn wrap_before(&mut self, t: DateTime<Utc>) {
        self.pending.sort_by_key(|p| (p.written, p.seq));
        let lost = self.pending.iter().take_while(|p| p.written < t).count();
        self.pending.drain(..lost);
        self.first_record_id += lost as u64;
    }

    /// Keep only the events `keep` accepts (before they are numbered).
    pub fn retain(&mut self, mut keep: impl FnMut(&Element) -> bool) {
        self.pending.retain(|p| keep(&p.event));
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Process IDs that recur in a server's records.
#[derive(Debug, Clone, Copy)]
pub struct Pids {
    /// services.exe: the Execution process of every SCM record.
    pub services: u32,
    /// svchost hosting wuauserv: WindowsUpdateClient's process, and the MSI client of WU installs.
    pub wu: u32,
    /// msiexec.exe /V, the Windows Installer service, which opens Restart Manager sessions.
    pub msiserver: u32,
    pub w32time: u32,
}

/// Which Windows writes the host's records: SCM's layout and the boot records differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Era {
    /// Windows Server 2008 R2 and later (NT 6.1+): the layouts of `domain.md` §2.
    #[default]
    Modern,
    /// Windows Server 2008 (NT 6.0): SCM's 7040 has no key name (`domain.md` §2.4.1: param4 is
    /// confirmed on NT 6.1 only).
    Server2008,
    /// Windows Server 2003 (NT 5.2): classic records throughout (`legacy.md` §3).
    Server2003,
}

pub struct Host {
    pub computer: String,
    pub era: Era,
    pub lang: Lang,
    pub admin_sid: String,
    pub pids: Pids,
    pub app: Timeline,
    pub sys: Timeline,
    thread: u32,
}

impl Host {
    pub fn new(
        computer: &str,
        lang: Lang,
        admin_sid: &str,
        pids: Pids,
        app_first: u64,
        sys_first: u64,
    ) -> Self {
        Host {
            computer: computer.to_string(),
            era: Era::Modern,
            lang,
            admin_sid: admin_sid.to_string(),
            pids,
            app: Timeline::new(app_first),
            sys: Timeline::new(sys_first),
            thread: 1100,
        }
    }

    pub fn stamp(&self, time: DateTime<Utc>) -> Stamp<'_> {
        Stamp {
            computer: &self.computer,
            time,
        }
    }

    /// A plausible, changing thread ID for the Execution element.
    pub fn tid(&mut self) -> u32 {
        self.thread = 1100 + (self.thread * 7 + 13) % 2900;
        self.thread
    }

    pub fn scm(&mut self) -> (u32, u32) {
        (self.pids.services, self.tid())
    }

    pub fn service_state(&mut self, t: DateTime<Utc>, s: &Service, running: bool) {
        if self.era == Era::Server2003 {
            let e = events::nt5_scm_state(&self.stamp(t), s.display, running);
            self.sys.push(t, e);
            return;
        }
        let p = self.scm();
        let e = events::scm_state(
            &self.stamp(t),
            p,
            s.display,
            self.lang.state(running),
            s.key,
            if running { 4 } else { 1 },
        );
        self.sys.push(t, e);
    }

    pub fn start_type(
        &mut self,
        t: DateTime<Utc>,
        s: &Service,
        sid: &str,
        from: StartType,
        to: StartType,
    ) {
        let p = self.scm();
        let (old, new) = (self.lang.start_type(from), self.lang.start_type(to));
        let e = match self.era {
            Era::Server2003 => events::nt5_scm_start_type(&self.stamp(t), sid, s.display, old, new),
            Era::Server2008 => {
                let mut e =
                    events::scm_start_type(&self.stamp(t), p, sid, s.display, old, new, s.key);
                if let Some(ed) = e.children.iter_mut().find(|c| c.name == "EventData") {
                    ed.children.retain(|d| d.get_attr("Name") != Some("param4"));
                }
                e
            }
            Era::Modern => {
                events::scm_start_type(&self.stamp(t), p, sid, s.display, old, new, s.key)
            }
        };
        self.sys.push(t, e);
    }

    /// A shutdown and the boot after it, as the System log records them.
    pub fn reboot(&mut self, down: DateTime<Utc>) {
        let e = events::eventlog(&self.stamp(down), 6006, &[]);
        self.sys.push(down, e);
        let up = down + Duration::seconds(95);
        if self.era != Era::Modern {
            // 6009's version strings as NT 5.2 SP2 and NT 6.0 SP2 write them (legacy.md §3 for
            // the layout; the values are recalled); no Kernel-General 12 before NT 6.1 (recalled).
            let version: [Option<&str>; 4] = match self.era {
                Era::Server2003 => [
                    Some("5.02."),
                    Some("3790"),
                    Some("Service Pack 2"),
                    Some("Multiprocessor Free"),
                ],
                _ => [
                    Some("6.00."),
                    Some("6002"),
                    Some("Service Pack 2"),
                    Some("Multiprocessor Free"),
                ],
            };
            let e = events::eventlog(&self.stamp(up), 6009, &version);
            self.sys.push(up, e);
            let e = events::eventlog(&self.stamp(up), 6005, &[]);
            self.sys.push(up + Duration::milliseconds(1), e);
            return;
        }
        let boot = events::kernel_boot(
            &self.stamp(up - Duration::seconds(20)),
            up - Duration::seconds(20),
        );
        self.sys.push(up - Duration::seconds(20), boot);
        let version = [
            Some("6.01."),
            Some("7601"),
            Some("Service Pack 1"),
            Some("Multiprocessor Free"),
            Some("17514"),
        ];
        let e = events::eventlog(&self.stamp(up), 6009, &version);
        self.sys.push(up, e);
        let e = events::eventlog(&self.stamp(up), 6005, &[]);
        self.sys.push(up + Duration::milliseconds(1), e);
    }
}
