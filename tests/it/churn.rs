//! The churn experiment in CI: 20 separate `servent serve` processes, 30% SIGKILLed,
//! searches before and after; issue 10's bar for searches that survive churn.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The whole run: start (~1 s), 2 x 40 searches 8 at a time (~25 s each), heal (<= 20 s).
const RUN_LIMIT: Duration = Duration::from_secs(110);

/// The churn process, killed if the test ends before it does (it kills its servents).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn searches_survive_killing_30_percent_of_20_servents() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_servent"))
            .args([
                "churn",
                "--servents",
                "20",
                "--kill",
                "0.3",
                "--searches",
                "40",
                "--heal-limit",
                "20",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut stdout = child.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "churn ran over {RUN_LIMIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "servent churn: {status}");
    let out = reader.join().unwrap();
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let num = |path: &str| {
        report
            .pointer(path)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{path} in {report}"))
    };
    assert_eq!(num("/servents"), 20.0);
    assert_eq!(num("/killed"), 6.0);
    assert_eq!(num("/before/searches"), 40.0);
    assert!(num("/before/percent") >= 99.0, "before the kill: {report}");
    assert!(
        report.pointer("/heal/healed") == Some(&serde_json::Value::Bool(true))
            && num("/heal/seconds") <= 20.0,
        "every live servent back at --min-peers within 20 s: {report}"
    );
    assert_eq!(num("/after/searches"), 40.0);
    assert!(num("/after/percent") >= 95.0, "after the kill: {report}");
}
