//! Criterion benchmarks of the hot parts: turning a rendered record into an event, reading a log
//! through the reader (filter, render, normalize, match), and correlating many events, at two sizes
//! so that the cost per event can be compared (it must not grow with the number of events).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use evtriage::diagnosis::{Collector, Diagnoser, Inputs};
use evtriage::event::Interner;
use evtriage::input::xml::from_event_xml;
use evtriage::input::{InputFile, LogReader, NoProgress, evtx::EvtxReader};
use evtriage_gen::events::{self, MsiProduct, Stamp};
use std::hint::black_box;
use std::path::PathBuf;

const SCM_7040: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="Service Control Manager" Guid="{555908d1-a6d7-4695-8e1e-26931d2012f4}" EventSourceName="Service Control Manager"/>
    <EventID Qualifiers="16384">7040</EventID>
    <Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>
    <Keywords>0x8080000000000000</Keywords>
    <TimeCreated SystemTime="2011-11-09T03:01:33.1234567Z"/>
    <EventRecordID>90201</EventRecordID>
    <Correlation/><Execution ProcessID="496" ThreadID="1716"/>
    <Channel>System</Channel><Computer>EXMBX01.contoso.local</Computer>
    <Security UserID="S-1-5-18"/>
  </System>
  <EventData>
    <Data Name="param1">Microsoft Exchange Information Store</Data>
    <Data Name="param2">auto start</Data>
    <Data Name="param3">disabled</Data>
    <Data Name="param4">MSExchangeIS</Data>
  </EventData>
</Event>"#;

fn normalize(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(1));
    g.bench_function("event_xml_7040", |b| {
        let mut interner = Interner::default();
        b.iter(|| from_event_xml(black_box(SCM_7040), 0, Some(1), &mut interner).unwrap())
    });
    let d = Diagnoser::builtin();
    let event = from_event_xml(SCM_7040, 0, Some(1), &mut Interner::default()).unwrap();
    g.bench_function("match_7040", |b| {
        b.iter(|| d.match_built(black_box(event.clone())).unwrap())
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples/kb940006-rollup-failed/System.evtx");
    let size = std::fs::metadata(&path).unwrap().len();
    let input = InputFile {
        id: 0,
        path,
        display: "System.evtx".into(),
        size,
        format: "evtx",
        handle: None,
        member: None,
        modified: None,
    };
    let d = Diagnoser::builtin();
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("sample_system_log", |b| {
        b.iter(|| {
            let sink = Collector::new(&d);
            let report = EvtxReader.read(&input, &sink, &NoProgress);
            assert_eq!(report.records_failed, 0);
            report.records_read
        })
    });
    g.finish();

    // Many chunks (issue 24): the samples' real chunks repeated to 24 MiB, six blocks of the
    // reader's reads, worked on by the pool while the next is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chunks.evtx");
    evtriage_gen::realchunks::write(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples"),
        24 << 20,
        &path,
    )
    .unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let input = InputFile {
        path,
        size,
        ..input
    };
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(size));
    g.sample_size(20);
    g.bench_function("many_chunks_24mib", |b| {
        b.iter(|| {
            let sink = Collector::new(&d);
            let report = EvtxReader.read(&input, &sink, &NoProgress);
            assert_eq!(report.chunks, 383);
            report.records_read
        })
    });

    // The same log in a zip, deflated (issue 24: the archive read a MiB at a time, the member
    // unpacked once for the whole read).
    let bytes = std::fs::read(&input.path).unwrap();
    let zipped = dir.path().join("case.zip");
    std::fs::write(
        &zipped,
        evtriage_writer::archive::zip_members(
            &[("EXMBX01/System.evtx", &bytes)],
            evtriage_writer::archive::Packing::Deflated,
        ),
    )
    .unwrap();
    g.bench_function("zipped_24mib", |b| {
        b.iter(|| {
            let sink = Collector::new(&d);
            let found = evtriage::input::discover(
                &[zipped.display().to_string()],
                &mut std::io::empty(),
                1 << 30,
            );
            let reports = evtriage::input::read_all(&found.files, &sink, &NoProgress);
            assert_eq!(reports.iter().map(|r| r.chunks).sum::<u64>(), 383);
            reports.len()
        })
    });
    g.finish();

    // Event XML (issue 24): every sample's events exported as Event Viewer does, repeated to
    // 8 MiB; cut out in order, parsed on the pool a block at a time.
    let events: Vec<_> = evtriage_gen::samples::all()
        .into_iter()
        .flat_map(|b| b.application.into_iter().chain(b.system))
        .collect();
    let one = evtriage_gen::samples::events_xml(&events);
    let body = one
        .split_once("<Events>\n")
        .and_then(|(_, rest)| rest.rsplit_once("</Events>"))
        .map(|(body, _)| body)
        .unwrap();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Events>\n");
    while xml.len() < 8 << 20 {
        xml.push_str(body);
    }
    xml.push_str("</Events>\n");
    let path = dir.path().join("export.xml");
    std::fs::write(&path, &xml).unwrap();
    let xml_input = InputFile {
        path,
        size: xml.len() as u64,
        format: "event-xml",
        ..input.clone()
    };
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.sample_size(20);
    g.bench_function("event_xml_8mib", |b| {
        b.iter(|| {
            let sink = Collector::new(&d);
            let report =
                evtriage::input::event_xml::EventXmlReader.read(&xml_input, &sink, &NoProgress);
            assert_eq!(report.records_failed, 0, "{:?}", report.errors);
            report.records_read
        })
    });
    g.finish();
}

/// `n` service events of one computer: state changes, with a disable-and-restore burst every 500.
fn service_events(d: &Diagnoser, n: usize) -> Vec<evtriage::diagnosis::Matched> {
    let t0 = chrono::DateTime::parse_from_rfc3339("2011-11-09T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut out = Vec::new();
    let mut interner = Interner::default();
    for i in 0..n {
        let t = t0 + chrono::Duration::seconds(i as i64 * 7);
        let stamp = Stamp {
            computer: "EXMBX01.contoso.local",
            time: t,
        };
        let key = [
            "MSExchangeIS",
            "MSExchangeSA",
            "MSExchangeADTopology",
            "MSExchangeMonitoring",
        ][i % 4];
        let el = if i % 500 == 499 {
            events::scm_start_type(
                &stamp,
                (496, 1000),
                "S-1-5-18",
                "Microsoft Exchange Information Store",
                "auto start",
                "disabled",
                key,
            )
        } else if i % 500 == 0 && i > 0 {
            events::scm_start_type(
                &stamp,
                (496, 1000),
                "S-1-5-18",
                "Microsoft Exchange Information Store",
                "disabled",
                "auto start",
                key,
            )
        } else {
            events::scm_state(
                &stamp,
                (496, 1000),
                "Microsoft Exchange Information Store",
                "stopped",
                key,
                1,
            )
        };
        let mut el = el;
        events::set_record_id(&mut el, i as u64 + 1);
        let xml = el.to_xml();
        let ev = from_event_xml(&xml, 0, Some(i as u64 + 1), &mut interner).unwrap();
        if let Some(m) = d.match_built(ev) {
            out.push(m);
        }
    }
    out
}

/// `n` installer events of one computer: updates of a few products, every fifth one failing with
/// 1603 and retried, so that each failure's window of later successes grows with the log.
fn installer_sessions(d: &Diagnoser, n: usize) -> Vec<evtriage::diagnosis::Matched> {
    let t0 = chrono::DateTime::parse_from_rfc3339("2012-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let codes = [
        "{24B2C164-DE66-44FE-B468-A46D9D5E6B31}",
        "{7C5A6E2B-1F54-4C7C-9E54-8F1F1E0A0B11}",
        "{9A3B1C2D-4E5F-4A6B-8C7D-0E1F2A3B4C5D}",
    ];
    let mut out = Vec::new();
    let mut interner = Interner::default();
    for i in 0..n {
        let stamp = Stamp {
            computer: "EXMBX01.contoso.local",
            time: t0 + chrono::Duration::minutes(i as i64 * 30),
        };
        let product = MsiProduct {
            name: "Microsoft Exchange Server",
            version: "8.3.83.6",
            language: "1033",
            manufacturer: "Microsoft Corporation",
            product_code: codes[i % codes.len()],
        };
        let update = format!(
            "Update Rollup {} for Exchange Server 2007 (KB{})",
            i % 9,
            900_000 + i
        );
        let error = if i % 5 == 0 { 1603 } else { 0 };
        let mut el =
            events::msi_update_result(&stamp, "S-1-5-18", &product, &update, codes[0], error, None);
        events::set_record_id(&mut el, i as u64 + 1);
        let ev = from_event_xml(&el.to_xml(), 0, Some(i as u64 + 1), &mut interner).unwrap();
        if let Some(m) = d.match_built(ev) {
            out.push(m);
        }
    }
    out
}

fn correlate(c: &mut Criterion) {
    let d = Diagnoser::builtin();
    let names = Inputs::named(vec!["System.evtx".to_string()]);
    let mut g = c.benchmark_group("correlate");
    g.sample_size(10);
    for n in [10_000usize, 100_000] {
        let matched = service_events(&d, n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &matched, |b, m| {
            b.iter(|| d.diagnose(black_box(m.clone()), &names).len())
        });
    }
    g.finish();
    // Kept events that wait on disk (issue 24): written to the temporary file and read back.
    let mut g = c.benchmark_group("spill_round_trip");
    g.sample_size(10);
    let matched = service_events(&d, 100_000);
    g.throughput(Throughput::Elements(matched.len() as u64));
    g.bench_function("100000", |b| {
        b.iter(|| {
            let mut writer = evtriage::diagnosis::spill::SpillWriter::new().unwrap();
            writer.write(black_box(&matched)).unwrap();
            let mut back = 0usize;
            writer
                .finish()
                .unwrap()
                .read_each(&d, |_| back += 1)
                .unwrap();
            assert_eq!(back, matched.len());
            back
        })
    });
    g.finish();
    // Events per second must not fall as the log grows: correlation is linear.
    let mut g = c.benchmark_group("correlate_installer_sessions");
    g.sample_size(10);
    for n in [10_000usize, 100_000] {
        let matched = installer_sessions(&d, n);
        assert!(matched.len() == n, "every installer event is kept");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &matched, |b, m| {
            b.iter(|| d.diagnose(black_box(m.clone()), &names).len())
        });
    }
    g.finish();
}

/// The text readers on the samples' logs, made a few MiB by repetition (as a long-lived server's
/// appended sessions and runs are), into the run's own sink: bytes per second of a log read,
/// matched and kept. And a zip of the KB bundle: what reading through the archive adds.
fn read_text_logs(c: &mut Criterion) {
    use evtriage::input::text::{
        clixml::ClixmlReader, exchange_setup::ExchangeSetupReader, msi_log::MsiLogReader,
        service_control::ServiceControlReader,
    };
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let dir = tempfile::tempdir().unwrap();
    let d = Diagnoser::builtin();
    let mut g = c.benchmark_group("read_text");
    let sample = |file: &str| std::fs::read(samples.join(file)).unwrap();
    // ExchangeSetup.log as the setup that Exchange refused writes it (no sample has one).
    let setup = evtriage_gen::fixtures::fixture("cu-setup-refused-after-su-failed")
        .and_then(|b| {
            b.extra
                .into_iter()
                .find(|(path, _)| path.ends_with("ExchangeSetup.log"))
        })
        .map(|(_, bytes)| bytes)
        .unwrap();
    let mut cases: Vec<(&str, &dyn LogReader, Vec<u8>, usize)> = vec![
        (
            "msi_log_utf16",
            &MsiLogReader,
            sample("msi-update-failed-file-in-use/MSI2b7d4.LOG"),
            600,
        ),
        (
            "msi_log_ansi",
            &MsiLogReader,
            sample("kb940006-rollup-failed/MSI4f2a1.LOG"),
            600,
        ),
        (
            "service_control",
            &ServiceControlReader,
            sample("exchange2016-su-failed-retry/ExchangeSetupLogs/ServiceControl.log"),
            100,
        ),
        ("exchange_setup", &ExchangeSetupReader, setup, 2000),
    ];
    // Real logs, whose lines are mostly the installer's engine lines and setup's own, with an
    // event every few hundred lines: what reading lines costs more than what matching does
    // (the samples above hold an event every few lines).
    let textlogs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/textlogs");
    match (
        std::fs::read(textlogs.join("redball/msi_install.log")),
        std::fs::read(textlogs.join("css-exchange/ExchangeSetup_Reboot_Pending.log")),
    ) {
        (Ok(msi), Ok(setup)) => {
            cases.push(("msi_log_real", &MsiLogReader, msi, 30));
            cases.push(("exchange_setup_real", &ExchangeSetupReader, setup, 100));
        }
        _ => eprintln!(
            "read_text: ../shared/corpus/textlogs is not there; its real logs are skipped"
        ),
    }
    for (name, reader, one, times) in cases {
        // A UTF-16 log keeps one byte-order mark.
        let bom = if one.starts_with(&[0xFF, 0xFE]) { 2 } else { 0 };
        let mut bytes = one.clone();
        for _ in 1..times {
            bytes.extend_from_slice(&one[bom..]);
        }
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let input = InputFile {
            id: 0,
            path,
            display: name.into(),
            size: bytes.len() as u64,
            format: reader.format(),
            handle: None,
            member: None,
            modified: None,
        };
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let sink = Collector::new(&d);
                let report = reader.read(&input, &sink, &NoProgress);
                assert_eq!(report.records_failed, 0, "{:?}", report.errors);
                report.records_read
            })
        });
    }
    let _ = ClixmlReader;
    // The KB bundle zipped: discovery lists the members, the readers open them.
    let zip = evtriage_writer::archive::zip_dir(
        &samples.join("kb940006-rollup-failed"),
        "EXMBX01",
        evtriage_writer::archive::Packing::Deflated,
    )
    .unwrap();
    let zip_path = dir.path().join("case.zip");
    std::fs::write(&zip_path, &zip).unwrap();
    let unpacked: u64 = ["Application.evtx", "System.evtx", "MSI4f2a1.LOG"]
        .iter()
        .map(|f| {
            std::fs::metadata(samples.join("kb940006-rollup-failed").join(f))
                .unwrap()
                .len()
        })
        .sum();
    g.throughput(Throughput::Bytes(unpacked));
    for (name, arg) in [
        ("kb_bundle_zipped", zip_path.display().to_string()),
        (
            "kb_bundle_folder",
            samples.join("kb940006-rollup-failed").display().to_string(),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let found = evtriage::input::discover(
                    std::slice::from_ref(&arg),
                    &mut std::io::empty(),
                    1 << 30,
                );
                let sink = Collector::new(&d);
                let reports = evtriage::input::read_all(&found.files, &sink, &NoProgress);
                assert_eq!(reports.len(), 3);
                sink.into_matched().len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, normalize, read, correlate, read_text_logs);
criterion_main!(benches);
