//! Three progressd instances behind nginx, as deploy/nginx-sharded.conf
//! (that very file, given the test's ports and no TLS) and docs/deploy.md
//! describe: each job lives on one instance, and every request about it
//! reaches that one; the index through nginx lists every job, and names an
//! instance that is down while the others go on.
//!
//! Needs nginx (Debian's nginx-light); skipped with a message without it,
//! unless CI is set, when it fails.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BinaryServer, Reply, TestResult, reply};

type Failure = Box<dyn std::error::Error>;

/// The nginx to run: $NGINX, else the first found.
fn find_nginx() -> Option<String> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(path.to_string_lossy().into_owned());
    }
    ["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|candidate| {
            Command::new(candidate)
                .arg("-v")
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_string)
}

fn nginx_for(test: &str) -> Result<Option<String>, Failure> {
    match find_nginx() {
        Some(nginx) => Ok(Some(nginx)),
        None if std::env::var_os("CI").is_some() => {
            Err("CI is set but no nginx was found (install Debian's nginx-light)".into())
        }
        None => {
            eprintln!("SKIPPED {test}: no nginx found (set NGINX=/path/to/nginx)");
            Ok(None)
        }
    }
}

/// Free ports of 127.0.0.1, found by binding and letting go.
fn free_ports(n: usize) -> Result<Vec<u16>, Failure> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The shipped config with the test's ports, plain HTTP, and everything
/// nginx writes in `dir`; one process (`master_process off`), so killing it
/// leaves nothing behind.
fn nginx_config(dir: &Path, front: u16, instances: &[u16]) -> Result<String, Failure> {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx-sharded.conf"),
    )?;
    // The TLS redirect server is of no use here.
    let (site, _) = shipped
        .split_once("# Plain HTTP: redirect to TLS.")
        .ok_or("no redirect server block in deploy/nginx-sharded.conf")?;
    let mut servers = instances.iter();
    let mut kept = Vec::new();
    for line in site.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("ssl_certificate") || trimmed == "listen [::]:443 ssl;" {
            continue;
        }
        if trimmed == "listen 443 ssl;" {
            kept.push(format!("    listen 127.0.0.1:{front};"));
        } else if let Some(rest) = trimmed.strip_prefix("server 127.0.0.1:") {
            let port = servers
                .next()
                .ok_or("more servers in the file than the test runs")?;
            let options = rest.split_once(' ').map_or("", |(_, o)| o);
            kept.push(format!("    server 127.0.0.1:{port} {options}"));
        } else {
            kept.push(line.to_string());
        }
    }
    if servers.next().is_some() {
        return Err("fewer servers in deploy/nginx-sharded.conf than the test runs".into());
    }
    let site = kept.join("\n");
    for must in [
        format!("listen 127.0.0.1:{front};"),
        "hash $arg_jobid".into(),
    ] {
        if !site.contains(&must) {
            return Err(format!("the shipped config changed: no {must:?} after editing").into());
        }
    }
    let d = dir.display();
    Ok(format!(
        "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    ))
}

/// nginx, killed on drop.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nginx on `config` and waits until `front` answers.
fn start_nginx(nginx: &str, dir: &Path, config: &str, front: u16) -> Result<Nginx, Failure> {
    std::fs::write(dir.join("nginx.conf"), config)?;
    let mut server = Nginx(
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", front)).is_err() {
        if let Some(status) = server.0.try_wait()? {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("nginx exited ({status}): {log}").into());
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("nginx did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// An HTTP client that reports any status.
struct Client(ureq::Agent);

impl Client {
    fn new() -> Client {
        Client(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(20)))
                .build()
                .into(),
        )
    }

    fn get(&self, url: &str) -> Result<Reply, Failure> {
        Ok(reply(self.0.get(url).call()?))
    }

    fn post(&self, url: &str, body: &str) -> Result<Reply, Failure> {
        Ok(reply(
            self.0
                .post(url)
                .content_type("application/x-www-form-urlencoded")
                .send(body)?,
        ))
    }

    /// GET that must answer 200.
    fn ok(&self, url: &str) -> Result<Reply, Failure> {
        let answer = self.get(url)?;
        if answer.status != 200 {
            return Err(format!("{url}: {} {}", answer.status, answer.body).into());
        }
        Ok(answer)
    }
}

/// The ids of the jobs an instance holds itself.
fn own_jobs(client: &Client, instance: &str) -> Result<Vec<String>, Failure> {
    let list = client
        .ok(&format!("{instance}/progress/jobs?peers=0&limit=100000"))?
        .json();
    Ok(list
        .as_array()
        .ok_or("jobs is not a list")?
        .iter()
        .filter_map(|job| job["jobid"].as_str().map(str::to_string))
        .collect())
}

const JOBS: usize = 100;

/// Creates a job with the shell client and one with the Python client
/// through `front` and reports worker w0 at 3 of 10 in each; their ids.
/// A client whose interpreter is missing is skipped, unless CI is set.
fn clients_through(front: &str) -> Result<Vec<String>, Failure> {
    let root = env!("CARGO_MANIFEST_DIR");
    let runs = [
        (
            "sh job: 1+1 ~*",
            "bash",
            "-c",
            "set -e; source clients/progressd.sh; \
             progress_create \"$JOB\" 'Shell job'; progress_update \"$JOB\" w0 3 10",
        ),
        (
            "py job: 1+1 ~*",
            "python3",
            "-c",
            "import os, sys; sys.path.insert(0, 'clients/python'); import progressd_client as pc; \
             job = os.environ['JOB']; \
             sys.exit(0 if pc.create(job, desc='Python job') and pc.update(job, 'w0', 3, 10) else 1)",
        ),
    ];
    let mut made = Vec::new();
    for (job, program, flag, script) in runs {
        let run = Command::new(program)
            .args([flag, script])
            .current_dir(root)
            .env("JOB", job)
            .env("PROGRESSD_URL", front)
            .env("PROGRESSD_STRICT", "1")
            .env_remove("PROGRESSD_TOKEN")
            .output();
        match run {
            Ok(out) if out.status.success() => made.push(job.to_string()),
            Ok(out) => {
                return Err(format!(
                    "the {program} client through nginx: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED the {program} client through nginx: {e}");
            }
            Err(e) => return Err(format!("CI is set but {program} cannot run: {e}").into()),
        }
    }
    Ok(made)
}

#[test]
fn three_instances_behind_nginx_share_the_jobs_and_survive_one_going_down() -> TestResult {
    let Some(nginx) = nginx_for("sharding test")? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let ports = free_ports(4)?;
    let (front_port, instance_ports) = (ports[0], &ports[1..]);
    let front = format!("http://127.0.0.1:{front_port}");
    let urls: Vec<String> = instance_ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut instances = Vec::new();
    for (i, port) in instance_ports.iter().enumerate() {
        let mut command = common::progressd_command();
        command
            .args(["--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(dir.path().join(format!("shard{i}.sqlite3")))
            .args(["--public-url", &front, "--log-level", "info"]);
        for (j, peer) in urls.iter().enumerate() {
            if j != i {
                command.args(["--peer", peer]);
            }
        }
        instances.push(Some(BinaryServer::spawn(command)?));
    }
    let config = nginx_config(dir.path(), front_port, instance_ports)?;
    let _nginx = start_nginx(&nginx, dir.path(), &config, front_port)?;
    let client = Client::new();

    // Create each job, report two workers one at a time and two in a
    // batch, all through nginx.
    let jobid = |n: usize| format!("shard-{n:03}");
    for n in 0..JOBS {
        let id = jobid(n);
        client.ok(&format!("{front}/progress/create?jobid={id}&desc=Job+{n}"))?;
        for w in 0..2 {
            client.ok(&format!(
                "{front}/progress/update?jobid={id}&workid=w{w}&current={}&total=10",
                n % 10
            ))?;
        }
        let batch = client.post(
            &format!("{front}/progress/update?jobid={id}"),
            "workid=b0&current=1&total=2\nworkid=b1&current=2&total=2\n",
        )?;
        assert_eq!(batch.status, 200, "batch of {id}: {}", batch.body);
    }

    // The clients in clients/ put the jobid where nginx sees it: a job
    // each, created and updated through the front, with an id that needs
    // encoding.
    let clients = clients_through(&front)?;

    // Each job is on exactly one instance, and they are spread.
    let mut home: BTreeMap<String, usize> = BTreeMap::new();
    let mut counts = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let held = own_jobs(&client, url)?;
        counts.push(held.len());
        for id in held {
            assert!(
                home.insert(id.clone(), i).is_none(),
                "{id} on two instances"
            );
        }
    }
    assert_eq!(
        home.len(),
        JOBS + clients.len(),
        "every job stored once: {counts:?}"
    );
    for id in &clients {
        let status = client
            .ok(&format!(
                "{front}/progress/status?jobid={}",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            ))?
            .json();
        assert_eq!(common::worker(&status, "w0")["current"], 3, "{id}");
    }
    assert!(
        counts.iter().filter(|&&n| n > 0).count() > 1,
        "the jobs all landed on one instance: {counts:?}"
    );

    // Every request about a job reaches its instance: its status has all
    // four workers, its page and its chart are found.
    for n in 0..JOBS {
        let id = jobid(n);
        let status = client
            .ok(&format!("{front}/progress/status?jobid={id}"))?
            .json();
        assert_eq!(status["workers"].as_array().map(Vec::len), Some(4), "{id}");
        let page = client.ok(&format!("{front}/progress/show?jobid={id}"))?;
        assert!(page.body.contains(&format!("Job {n}")), "{id}'s page");
        let chart = client.ok(&format!("{front}/progress/render?jobid={id}"))?;
        assert_eq!(chart.content_type, "image/png", "{id}'s chart");
    }

    // A POST with the jobid only in its body cannot be routed: nginx says
    // so rather than send it to any instance.
    let unroutable = client.post(
        &format!("{front}/progress/update"),
        "jobid=shard-000&workid=w0&current=9&total=10",
    )?;
    assert_eq!(unroutable.status, 400, "{}", unroutable.body);
    assert!(unroutable.body.contains("jobid"), "{}", unroutable.body);

    // The index through nginx, whichever instance answers, lists them all,
    // and the peers' jobs link through the front to pages that are found.
    for _ in 0..instances.len() {
        let listed = client
            .ok(&format!("{front}/progress/jobs?envelope=1&limit=1000"))?
            .json();
        let jobs = listed["jobs"].as_array().ok_or("no jobs")?;
        assert_eq!(jobs.len(), JOBS + clients.len(), "{}", listed["peers"]);
        let peers = listed["peers"].as_array().ok_or("no peers")?;
        assert_eq!(peers.len(), 2);
        assert!(peers.iter().all(|p| p["ok"] == true), "{peers:?}");
        let elsewhere = jobs.iter().find(|j| j.get("peer").is_some());
        let show = elsewhere
            .and_then(|j| j["show"].as_str())
            .ok_or("no job of a peer")?;
        assert!(
            show.starts_with(&format!("{front}/progress/show?jobid=")),
            "{show}"
        );
        client.ok(show)?;
        let page = client.ok(&format!("{front}/progress/"))?;
        let all = JOBS + clients.len();
        assert!(
            page.body
                .contains(&format!("{all} jobs here and on 2 peers"))
        );
        assert!(!page.body.contains("Not listed"));
    }
    // The plain list is the list it always was, with the peers' jobs in it.
    let plain = client.ok(&format!("{front}/progress/jobs"))?.json();
    assert_eq!(plain.as_array().map(Vec::len), Some(JOBS + clients.len()));

    // One instance goes down, as in a crash: the one holding most jobs.
    let down = (0..counts.len()).max_by_key(|&i| counts[i]).ok_or("none")?;
    if let Some(server) = instances[down].take() {
        server.kill();
    }
    // What the others kept of it is forgotten within seconds.
    std::thread::sleep(Duration::from_millis(3500));
    let alive = JOBS + clients.len() - counts[down];
    for _ in 0..instances.len() {
        let listed = client
            .ok(&format!("{front}/progress/jobs?envelope=1&limit=1000"))?
            .json();
        assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(alive));
        let peers = listed["peers"].as_array().ok_or("no peers")?;
        let missing: Vec<&serde_json::Value> = peers.iter().filter(|p| p["ok"] == false).collect();
        assert_eq!(missing.len(), 1, "{peers:?}");
        assert_eq!(missing[0]["url"], urls[down].as_str());
        assert!(missing[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
        let page = client.ok(&format!("{front}/progress/"))?;
        assert!(
            page.body.contains("Not listed") && page.body.contains(&urls[down]),
            "the index does not name the missing instance"
        );
    }
    // Jobs on the live instances go on without an error; the jobs of the
    // one that is down are refused, not started again elsewhere.
    for n in 0..JOBS {
        let id = jobid(n);
        let update = client.get(&format!(
            "{front}/progress/update?jobid={id}&workid=w0&current=10&total=10"
        ))?;
        if home[&id] == down {
            assert_eq!(update.status, 502, "{id} on the instance that is down");
        } else {
            assert_eq!(update.status, 200, "{id}: {}", update.body);
        }
    }
    for (i, url) in urls.iter().enumerate() {
        if i != down {
            let held = own_jobs(&client, url)?;
            assert!(held.iter().all(|id| home[id] == i), "a job moved to {url}");
        }
    }
    Ok(())
}

/// A peer that takes the connection and never answers costs the index no
/// more than the peers' timeout, and is named; one that refuses the token
/// is named with its answer. No nginx needed.
#[test]
fn a_silent_or_refusing_peer_is_named_and_waited_for_at_most_a_second() -> TestResult {
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let refusing = common::TestServer::start_with(|c| c.tokens.read = Some("other".into()));
    let silent_url = format!("http://{}", silent.local_addr()?);
    let s = common::TestServer::start_with(|c| {
        c.peers.urls = vec![silent_url.clone(), refusing.base.clone()];
        c.peers.token = Some("mine".into());
    });
    s.get("/progress/create?jobid=here");
    for round in 0..2 {
        let asked = Instant::now();
        let listed = s.get("/progress/jobs?envelope=1").json();
        let took = asked.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "round {round}: {took:?}"
        );
        assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(1));
        let peers = listed["peers"].as_array().ok_or("no peers")?;
        assert_eq!(peers[0]["url"], silent_url.as_str());
        assert_eq!(peers[0]["ok"], false, "{peers:?}");
        assert_eq!(peers[1]["ok"], false, "{peers:?}");
        assert!(
            peers[1]["error"]
                .as_str()
                .is_some_and(|e| e.contains("401")),
            "{peers:?}"
        );
    }
    let page = s.get("/progress/");
    assert!(page.body.contains(&silent_url) && page.body.contains("Not listed"));
    // Asked for this server's jobs alone, it asks no peer.
    let asked = Instant::now();
    let local = s.get("/progress/jobs?peers=0");
    assert!(asked.elapsed() < Duration::from_millis(500));
    assert_eq!(local.json().as_array().map(Vec::len), Some(1));
    Ok(())
}

/// A peer asked for few jobs is asked again when more are wanted, rather
/// than its short list being taken for all it has; and the list, cut to
/// `limit`, keeps the most recent of both servers.
#[test]
fn a_peer_asked_for_few_jobs_is_asked_again_for_more() -> TestResult {
    let (peer, peer_clock) = common::TestServer::start_with_clock();
    let peer_base = peer.base.clone();
    let (s, clock) = common::TestServer::start_with_clock_and(|c| c.peers.urls = vec![peer_base]);
    for (server, server_clock, ids) in [
        (&peer, &peer_clock, ["p1", "p2", "p3"]),
        (&s, &clock, ["s1", "s2", "s3"]),
    ] {
        for id in ids {
            server_clock.advance(progressd::clock::Secs(1.0));
            server.get(&format!("/progress/create?jobid={id}"));
        }
    }
    let ids = |limit: u32| -> Vec<String> {
        s.get(&format!("/progress/jobs?limit={limit}"))
            .json()
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|j| j["jobid"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Both clocks stand at the same time: s3 and p3 are the most recent.
    assert_eq!(ids(1).len(), 1);
    let mut two = ids(2);
    two.sort();
    assert_eq!(two, ["p3", "s3"]);
    assert_eq!(ids(100).len(), 6, "the peer asked again, for more");
    Ok(())
}
