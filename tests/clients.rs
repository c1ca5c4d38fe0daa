//! The client helpers shipped with progressd, run for real against a
//! server: `clients/progressd.sh` through bash and curl.
//!
//! Without bash or curl the test is skipped with a message, unless `CI` is
//! set: then it fails (`.ci/run` installs curl).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestResult, TestServer, worker};

/// The write token the shell helper's tests give their server.
const SHELL_TOKEN: &str = "sh-token";

/// A job id with every character a shell or a URL could get wrong.
const ODD_JOB: &str = "my job & co+1 %20 ü";

/// A server for the shell helper, taking [`SHELL_TOKEN`]; none (the test
/// is skipped) where bash or curl is missing.
fn shell_server() -> Result<Option<TestServer>, Box<dyn std::error::Error>> {
    Ok(have_shell_tools()?
        .then(|| TestServer::start_with(|c| c.tokens.write = Some(SHELL_TOKEN.into()))))
}

/// What the shell helper needs to reach `s` with [`SHELL_TOKEN`].
fn shell_env(s: &TestServer) -> [(&str, &str); 2] {
    [
        ("PROGRESSD_URL", s.base.as_str()),
        ("PROGRESSD_TOKEN", SHELL_TOKEN),
    ]
}

/// Runs `script` in bash after sourcing the helper, with `env`; returns
/// (exit status, stderr).
fn shell(script: &str, env: &[(&str, &str)]) -> Result<(i32, String), Box<dyn std::error::Error>> {
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/progressd.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{helper}'\n{script}"))
        .envs(env.iter().copied())
        .output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr)?,
    ))
}

fn have_shell_tools() -> Result<bool, Box<dyn std::error::Error>> {
    let found = ["bash", "curl"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found && std::env::var_os("CI").is_some() {
        return Err("CI is set but bash or curl is missing (.ci/run installs curl)".into());
    }
    if !found {
        eprintln!("SKIPPED shell helper test: bash or curl not found");
    }
    Ok(found)
}

#[test]
fn the_shell_helper_reports_odd_values_exactly() -> TestResult {
    let Some(s) = shell_server()? else {
        return Ok(());
    };
    let env = shell_env(&s);
    let job = ODD_JOB;
    let script = format!(
        "set -euo pipefail\n\
         progress_create '{job}' 'Désc with \"quotes\" & =' 3600\n\
         progress_update '{job}' 'rank 0' 5 10 'step 1/2 & more'\n\
         progress_update '{job}' 'rank 0' 7\n\
         progress_update '{job}' 'rank 1' 3 10 '' 0\n"
    );
    let (code, stderr) = shell(&script, &env)?;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    let status = s.status(job);
    assert_eq!(status["desc"], "Désc with \"quotes\" & =");
    let rank0 = worker(&status, "rank 0");
    assert_eq!(rank0["current"], 7.0);
    assert_eq!(rank0["total"], 10.0, "kept when omitted");
    assert_eq!(rank0["desc"], "step 1/2 & more");
    assert_eq!(worker(&status, "rank 1")["ok"], false);
    Ok(())
}

#[test]
fn the_shell_helper_sends_a_batch_from_a_file_or_standard_input() -> TestResult {
    let Some(s) = shell_server()? else {
        return Ok(());
    };
    let env = shell_env(&s);
    let job = ODD_JOB;
    let script = format!(
        "set -euo pipefail\n\
         dir=$(mktemp -d)\n\
         printf 'workid=%s&current=%s&total=%s\\n' 0 5 10 1 7 10 'rank+2' 10 10 > \"$dir/batch\"\n\
         progress_update_many '{job}' \"$dir/batch\"\n\
         printf 'workid=0&current=6&desc=step+%%232\\r\\nworkid=1&current=8\\n' | progress_update_many '{job}'\n\
         printf 'workid=0&current=9\\nworkid=new&current=1\\n' | PROGRESSD_STRICT=1 progress_update_many '{job}' \
           || echo \"strict exit $?\" >&2\n\
         rm -r \"$dir\"\n"
    );
    let (code, stderr) = shell(&script, &env)?;
    assert_eq!(code, 0, "{stderr}");
    // The last batch names a new worker without a total: refused whole.
    assert!(
        stderr.contains("progressd: update refused (400): line 2: parameter 'total'")
            && stderr.contains("strict exit 22"),
        "{stderr}"
    );
    let status = s.status(job);
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(3));
    let rank0 = worker(&status, "0");
    assert_eq!(rank0["current"], 6.0, "the refused batch stored nothing");
    assert_eq!(rank0["desc"], "step #2");
    assert_eq!(worker(&status, "1")["current"], 8.0);
    assert_eq!(worker(&status, "rank 2")["state"], "done");
    Ok(())
}

#[test]
fn the_shell_helper_never_stops_the_job_unless_asked() -> TestResult {
    if !have_shell_tools()? {
        return Ok(());
    }
    // A refused report (no token) warns and returns 0 under set -e...
    let s = TestServer::start_with(|c| c.tokens.write = Some("t".into()));
    let env = [("PROGRESSD_URL", s.base.as_str())];
    let (code, stderr) = shell(
        "set -e\nprogress_update j w 1 2\necho still running >&2",
        &env,
    )?;
    assert_eq!(code, 0);
    assert!(
        stderr.contains("progressd: update refused (401): this needs the server's write token"),
        "{stderr}"
    );
    assert!(stderr.contains("still running"), "{stderr}");
    // ...and with PROGRESSD_STRICT returns curl's status.
    let strict = [
        ("PROGRESSD_URL", s.base.as_str()),
        ("PROGRESSD_STRICT", "1"),
    ];
    let (code, _) = shell("progress_update j w 1 2", &strict)?;
    assert_eq!(code, 22);
    // A server that is not there is tried 4 times, a second apart: it
    // costs seconds, not minutes, and curl's reason is told once.
    let dead = [("PROGRESSD_URL", "http://127.0.0.1:9")];
    let started = Instant::now();
    let (code, stderr) = shell("progress_update j w 1 2", &dead)?;
    assert_eq!(code, 0);
    assert!(
        stderr.ends_with("progressd: update failed (curl exit 7)\n"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("curl: (7)").count(), 1, "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(3), "retried");
    assert!(started.elapsed() < Duration::from_secs(30));
    Ok(())
}

#[test]
fn the_shell_helper_prints_the_servers_reason_and_does_not_retry_a_refusal() -> TestResult {
    let Some(s) = shell_server()? else {
        return Ok(());
    };
    let env = shell_env(&s);
    // A first report without its total: the server's one-line reason, at
    // once, with the helper's exit status 0 (22 under PROGRESSD_STRICT).
    let started = Instant::now();
    let (code, stderr) = shell(
        "progress_update j w 1\nPROGRESSD_STRICT=1 progress_update j w 1 || echo \"strict exit $?\" >&2",
        &env,
    )?;
    assert_eq!(code, 0);
    let reason = "progressd: update refused (400): parameter 'total': is required on a worker's first update\n";
    assert_eq!(stderr, format!("{reason}{reason}strict exit 22\n"));
    assert!(started.elapsed() < Duration::from_secs(1), "not retried");
    let counted = "progressd_requests_total{endpoint=\"/progress/update\",status=\"400\"} 2";
    let metrics = s.metrics_with(counted);
    assert!(metrics.contains(counted), "{metrics}");
    Ok(())
}

#[test]
fn the_shell_helper_creates_a_roster() -> TestResult {
    let Some(s) = shell_server()? else {
        return Ok(());
    };
    let env = shell_env(&s);
    let script = "set -euo pipefail\n\
         progress_create sweep 'Sweep' --workers 3\n\
         progress_update sweep 1 5 10\n\
         progress_create picked --workids 'rank0, rank1,rank 2' 'Picked' 3600\n";
    let (code, stderr) = shell(script, &env)?;
    assert_eq!((code, stderr.as_str()), (0, ""));
    let sweep = s.status("sweep");
    let ids: Vec<_> = sweep["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w["workid"].clone())
        .collect();
    assert_eq!(ids, ["0", "1", "2"]);
    assert_eq!(sweep["summary"]["not_started"], 2);
    assert_eq!(worker(&sweep, "1")["state"], "running");
    let picked = s.status("picked");
    assert_eq!(picked["desc"], "Picked");
    let ids: Vec<_> = picked["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w["workid"].clone())
        .collect();
    assert_eq!(ids, ["rank 2", "rank0", "rank1"]);
    assert_eq!(picked["summary"]["not_started"], 3);
    // --notify is sent: this server has no --notify-url, so it refuses a
    // job that asks, and the helper passes its reason on (and, as ever,
    // does not stop the job).
    let (_, stderr) = shell(
        "progress_create told 'Told' --notify finished,failed\n",
        &env,
    )?;
    assert!(
        stderr.contains("parameter 'notify': this server sends no notifications"),
        "{stderr}"
    );
    let (code, stderr) = shell("progress_create told 'Told' --notify 0\n", &env)?;
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(s.status("told")["desc"], "Told");
    Ok(())
}

#[test]
fn the_python_client_passes_its_tests_against_a_real_server() -> TestResult {
    // The Python on the PATH, else the system's (where Debian's pytest
    // package puts it).
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-m", "pytest", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        if std::env::var_os("CI").is_some() {
            return Err("CI is set but python3 -m pytest is missing (.ci/run installs it)".into());
        }
        eprintln!("SKIPPED Python client tests: python3 with pytest not found");
        return Ok(());
    };
    let s = TestServer::start_with(|c| c.tokens.write = Some("py-token".into()));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python");
    let out = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", dir])
        .current_dir(dir)
        .env("PROGRESSD_TEST_URL", &s.base)
        .env("PROGRESSD_TEST_TOKEN", "py-token")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pytest failed:\n{report}");
    assert!(report.contains("20 passed"), "{report}");
    Ok(())
}
