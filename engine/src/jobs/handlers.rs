//! Handlers: the commands a worker offers to run workflow steps, declared by the worker
//! (`--handler NAME=COMMAND`, `--handlers FILE.toml`), never pushed by the server.
//!
//! A step runs as a process of its own, in a process group of its own, without a shell: its
//! input as JSON on stdin (over 1 MiB, in a file the stdin names); its output the last non-empty line of stdout, which must be JSON
//! of at most 1 MiB; every other line of stdout and stderr is its log. Exit 0 is success,
//! exit 75 asks for another attempt, anything else fails the step with the log's last lines.
//! Its environment is `PATH`, `HOME`, `LANG`, the names the handler passes through, and
//! `ORCHARD_JOB_ID`, `ORCHARD_STEP_ID`, `ORCHARD_ATTEMPT`. A step that outlives its timeout,
//! or whose run is dropped (cancel, lease lost, shutdown), has its whole group stopped:
//! SIGTERM, a grace period, then SIGKILL, grandchildren included.

use futures::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::Value;
use shared::jobs::protocol::FleetLimit;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::codec::{FramedRead, LinesCodec};

/// The exit code with which a step asks to be run again.
pub const EXIT_RETRY: i32 = 75;
/// Most bytes of a step's stdout (its output line included).
pub const MAX_OUTPUT: usize = 1 << 20;
/// Most bytes of input sent on stdin; a larger input is written to a file beside the step,
/// named on stdin (`{"$input_file": PATH, "bytes": N}`) and in `ORCHARD_INPUT_FILE`.
pub const MAX_STDIN_INPUT: usize = 1 << 20;
/// How long a step may run when its handler and definition say nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3_600);
/// Between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// Log lines a failure's message ends with.
const ERROR_LINES: usize = 20;

/// One handler as a worker declares it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerDef {
    pub name: String,
    /// The program and its arguments, run without a shell.
    pub command: Vec<String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Environment variables passed through from the worker.
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Most steps of this handler running at once on this worker.
    #[serde(default)]
    pub max_concurrent: Option<usize>,
    /// A fleet-wide bound, `"key:n"`: no more than n steps of the handlers naming `key` run
    /// at once across every worker.
    #[serde(default)]
    pub limit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandlerFile {
    #[serde(default)]
    handler: Vec<HandlerDef>,
}

/// The handlers a worker offers, by name.
#[derive(Debug, Clone, Default)]
pub struct Handlers {
    defs: BTreeMap<String, HandlerDef>,
    /// The `orchard` binary, to run each step under `orchard supervise-step` (`supervise.rs`);
    /// without it steps run directly, and a worker killed outright may leave them behind.
    supervisor: Option<PathBuf>,
    /// Places of the handlers with `max_concurrent`: a step waits for one before it starts.
    places: BTreeMap<String, Arc<Semaphore>>,
}

impl HandlerDef {
    /// `NAME=COMMAND`, COMMAND split into words as a shell would split them.
    pub fn parse_flag(s: &str) -> Result<Self, String> {
        let (name, command) = s
            .split_once('=')
            .ok_or_else(|| format!("--handler {s:?}: expected NAME=COMMAND"))?;
        let command = shell_words::split(command)
            .map_err(|e| format!("--handler {name}: cannot split the command: {e}"))?;
        let def = Self {
            name: name.trim().to_string(),
            command,
            cwd: None,
            env: Vec::new(),
            timeout_s: None,
            max_concurrent: None,
            limit: None,
        };
        def.check()?;
        Ok(def)
    }

    fn check(&self) -> Result<(), String> {
        if !shared::jobs::workflow::is_name(&self.name) {
            return Err(format!(
                "handler name {:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and -",
                self.name
            ));
        }
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(format!("handler {}: the command is empty", self.name));
        }
        if let Some(l) = &self.limit {
            FleetLimit::parse(l).map_err(|e| format!("handler {}: {e}", self.name))?;
        }
        if self.timeout_s == Some(0) || self.max_concurrent == Some(0) {
            return Err(format!(
                "handler {}: timeout_s and max_concurrent must be positive",
                self.name
            ));
        }
        Ok(())
    }
}

impl Handlers {
    /// Handlers from flags and from a TOML file's `[[handler]]` tables; a name given twice is
    /// refused.
    pub fn new(defs: Vec<HandlerDef>) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for d in defs {
            d.check()?;
            if out.contains_key(&d.name) {
                return Err(format!("handler {} is declared twice", d.name));
            }
            out.insert(d.name.clone(), d);
        }
        let places = out
            .values()
            .filter_map(|d| Some((d.name.clone(), Arc::new(Semaphore::new(d.max_concurrent?)))))
            .collect();
        Ok(Self {
            defs: out,
            supervisor: None,
            places,
        })
    }

    /// Runs every step under the supervisor of the `orchard` binary at `exe`.
    pub fn supervised_by(mut self, exe: PathBuf) -> Self {
        self.supervisor = Some(exe);
        self
    }

    pub fn supervisor(&self) -> Option<&std::path::Path> {
        self.supervisor.as_deref()
    }

    /// The `[[handler]]` tables of a TOML file's text.
    pub fn parse_toml(text: &str) -> Result<Vec<HandlerDef>, String> {
        toml::from_str::<HandlerFile>(text)
            .map(|f| f.handler)
            .map_err(|e| format!("handlers file: {e}"))
    }

    pub fn names(&self) -> Vec<String> {
        self.defs.keys().cloned().collect()
    }

    /// The fleet-wide limits of the handlers that declare one, by handler.
    pub fn limits(&self) -> BTreeMap<String, FleetLimit> {
        self.defs
            .values()
            .filter_map(|d| Some((d.name.clone(), FleetLimit::parse(d.limit.as_deref()?).ok()?)))
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&HandlerDef> {
        self.defs.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// A place to run a step of `name` on this worker, waiting for one when the handler's
    /// `max_concurrent` steps already run (none needed without a limit).
    pub async fn place(&self, name: &str) -> Option<OwnedSemaphorePermit> {
        let s = self.places.get(name)?.clone();
        s.acquire_owned().await.ok()
    }
}

/// Why a step did not produce an output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// Worth another attempt (exit 75, a timeout).
    #[error("{0}")]
    Retry(String),
    /// Another attempt would fail the same way.
    #[error("{0}")]
    Fail(String),
}

/// Where a running step's log lines go, as they come (the worker sends them to the server).
#[async_trait::async_trait]
pub trait LogShip: Send + Sync {
    async fn ship(&self, task_id: &str, attempt: i64, lines: Vec<String>);
}

/// Who a step's run is, for its environment and its log.
pub struct StepRun<'a> {
    pub task_id: &'a str,
    pub job_id: &'a str,
    pub step_id: &'a str,
    pub attempt: i64,
    pub input: &'a Value,
    /// The step's own timeout, when its definition gives one.
    pub timeout_s: Option<u32>,
    /// The `orchard` binary whose supervisor runs the step, if any.
    pub supervisor: Option<&'a std::path::Path>,
    /// Where its log lines go.
    pub log: Option<&'a dyn LogShip>,
}

/// Stops a process group when dropped, unless it has been let go: a step's processes never
/// outlive the run that started them.
struct Group(Option<Pid>);

impl Group {
    fn signal(&self, sig: Signal) {
        if let Some(pid) = self.0 {
            // ESRCH: the group has already gone.
            let _ = killpg(pid, sig);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// Longest log line kept whole; a longer one is cut there.
const MAX_LINE: usize = 64 * 1024;
/// How often a running step's new log lines are sent.
const SHIP_EVERY: Duration = Duration::from_millis(250);

/// The lines of a pipe, each at most `MAX_LINE` bytes (the rest of a longer one is dropped),
/// until it closes.
fn lines_of<R: tokio::io::AsyncRead + Unpin>(r: R) -> FramedRead<R, LinesCodec> {
    FramedRead::new(r, LinesCodec::new_with_max_length(MAX_LINE))
}

/// The log as it arrives: shipped in batches, and its last lines kept for an error message.
struct LogSink {
    tx: std::sync::Mutex<Option<mpsc::UnboundedSender<String>>>,
    tail: std::sync::Mutex<VecDeque<String>>,
}

impl LogSink {
    fn note(&self, line: String) {
        let mut t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == ERROR_LINES {
            t.pop_front();
        }
        t.push_back(line.chars().take(500).collect());
        drop(t);
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(line);
        }
    }

    /// No line comes after this: the shipper sends what it has and stops.
    fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn tail(&self) -> String {
        let t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// Runs one step on `def`, to its output.
pub async fn run_step(def: &HandlerDef, run: StepRun<'_>) -> Result<Value, StepError> {
    let mut cmd = match run.supervisor {
        Some(exe) => {
            let mut c = Command::new(exe);
            c.args(["supervise-step", "--"]).args(&def.command);
            c
        }
        None => {
            let mut c = Command::new(&def.command[0]);
            c.args(&def.command[1..]);
            c
        }
    };
    cmd.env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG"]
        .iter()
        .copied()
        .chain(def.env.iter().map(String::as_str))
    {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    cmd.env("ORCHARD_JOB_ID", run.job_id)
        .env("ORCHARD_STEP_ID", run.step_id)
        .env("ORCHARD_ATTEMPT", run.attempt.to_string());
    let mut input = serde_json::to_vec(run.input).map_err(|e| StepError::Fail(e.to_string()))?;
    // Removed when the step ends, however it ends.
    let mut _input_file = None;
    if input.len() > MAX_STDIN_INPUT {
        let file = super::input_file::InputFile::write(run.task_id, run.attempt, &input)
            .map_err(|e| StepError::Retry(format!("cannot write the step's input file: {e}")))?;
        cmd.env("ORCHARD_INPUT_FILE", &file.0);
        input = serde_json::to_vec(&serde_json::json!({
            "$input_file": file.0.display().to_string(),
            "bytes": input.len(),
        }))
        .map_err(|e| StepError::Fail(e.to_string()))?;
        _input_file = Some(file);
    }
    if let Some(dir) = &def.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| {
        StepError::Fail(format!(
            "handler {}: cannot start {:?}: {e}",
            def.name, def.command[0]
        ))
    })?;
    let group = Group(child.id().map(|id| Pid::from_raw(id as i32)));
    let mut stdin = child.stdin.take();
    let feed = async move {
        if let Some(s) = stdin.as_mut() {
            // A step that does not read its input closes the pipe early: that is its business.
            let _ = s.write_all(&input).await;
        }
        drop(stdin);
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let sink = LogSink {
        tx: std::sync::Mutex::new(Some(tx)),
        tail: Default::default(),
    };
    let stdout = child.stdout.take();
    // The last non-empty line of stdout is the output: each line is held back until the next
    // one shows it was not the last.
    let read_out = async {
        let (mut held, mut overflow) = (None::<String>, false);
        if let Some(out) = stdout {
            let mut lines = lines_of(out.take(MAX_OUTPUT as u64 + 1));
            let mut bytes = 0;
            while let Some(line) = lines.next().await {
                let Ok(line) = line else {
                    overflow = true;
                    continue;
                };
                bytes += line.len() + 1;
                if line.trim().is_empty() {
                    sink.note(line);
                } else if let Some(prev) = held.replace(line) {
                    sink.note(prev);
                }
            }
            overflow |= bytes > MAX_OUTPUT;
        }
        (held, overflow)
    };
    let stderr = child.stderr.take();
    let read_err = async {
        if let Some(err) = stderr {
            let mut lines = lines_of(err);
            while let Some(line) = lines.next().await {
                sink.note(line.unwrap_or_else(|_| format!("[a line over {MAX_LINE} bytes, cut]")));
            }
        }
    };
    let ship = async {
        let Some(log) = run.log else {
            while rx.recv().await.is_some() {}
            return;
        };
        let mut open = true;
        while open {
            let mut batch = Vec::new();
            let until = tokio::time::Instant::now() + SHIP_EVERY;
            loop {
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(line)) => {
                        batch.push(line);
                        if batch.len() >= 1_000 {
                            break;
                        }
                    }
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                log.ship(run.task_id, run.attempt, batch).await;
            }
        }
    };
    let limit = run
        .timeout_s
        .map(|s| Duration::from_secs(s as u64))
        .or(def.timeout_s.map(Duration::from_secs))
        .unwrap_or(DEFAULT_TIMEOUT);
    let main = async {
        let ran = async {
            let ((), (held, overflow), (), status) =
                tokio::join!(feed, read_out, read_err, child.wait());
            (held, overflow, status)
        };
        let out = tokio::time::timeout(limit, ran).await;
        if out.is_err() {
            group.signal(Signal::SIGTERM);
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                group.signal(Signal::SIGKILL);
                let _ = child.wait().await;
            }
        }
        sink.close();
        (out, sink.tail())
    };
    let (outcome, ()) = tokio::join!(main, ship);
    let (out, tail) = outcome;
    let Ok((held, overflow, status)) = out else {
        return Err(StepError::Retry(format!(
            "step {} timed out after {} s (handler {}): its processes were stopped",
            run.step_id,
            limit.as_secs(),
            def.name
        )));
    };
    // Whatever the step left running in its group goes with it.
    drop(group);
    let status = status.map_err(|e| StepError::Retry(format!("waiting for the step: {e}")))?;
    // Reading stops past the limit, so a step writing more may die of a broken pipe: the
    // size is what went wrong.
    if overflow {
        return Err(StepError::Fail(format!(
            "step {}: its output is over 1 MiB",
            run.step_id
        )));
    }
    match status.code() {
        Some(0) => {}
        Some(EXIT_RETRY) => {
            return Err(StepError::Retry(format!(
                "step {} asked to be run again (exit {EXIT_RETRY}){}",
                run.step_id,
                lines_after(&tail)
            )));
        }
        Some(code) => {
            return Err(StepError::Fail(format!(
                "step {} failed with exit {code}{}",
                run.step_id,
                lines_after(&tail)
            )));
        }
        None => {
            return Err(StepError::Fail(format!(
                "step {} was killed by a signal{}",
                run.step_id,
                lines_after(&tail)
            )));
        }
    }
    // A step that printed nothing has no output: `null`.
    let Some(line) = held else {
        return Ok(Value::Null);
    };
    serde_json::from_str(&line).map_err(|e| {
        StepError::Fail(format!(
            "step {}: the last line of its output is not JSON ({e}): {:?}",
            run.step_id,
            line.chars().take(200).collect::<String>()
        ))
    })
}

fn lines_after(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(name: &str, script: &str) -> HandlerDef {
        HandlerDef {
            name: name.into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            cwd: None,
            env: Vec::new(),
            timeout_s: None,
            max_concurrent: None,
            limit: None,
        }
    }

    async fn run(def: &HandlerDef, timeout_s: Option<u32>) -> Result<Value, StepError> {
        run_step(
            def,
            StepRun {
                job_id: "j1",
                step_id: "s1",
                attempt: 2,
                task_id: "t1",
                input: &json!({"x": 21}),
                timeout_s,
                supervisor: None,
                log: None,
            },
        )
        .await
    }

    #[test]
    fn flags_and_files_declare_handlers() {
        let d = HandlerDef::parse_flag("report=python3 'my report.py' --fast").unwrap();
        assert_eq!(d.command, ["python3", "my report.py", "--fast"]);
        assert!(HandlerDef::parse_flag("noequals").is_err());
        assert!(HandlerDef::parse_flag("bad name=true").is_err());
        assert!(HandlerDef::parse_flag("x=").is_err());
        let defs = Handlers::parse_toml(
            "[[handler]]\nname = \"resize\"\ncommand = [\"./bin/resize\", \"-q\"]\n\
             env = [\"GPU\"]\ntimeout_s = 30\nmax_concurrent = 2\n",
        )
        .unwrap();
        let h = Handlers::new(defs.clone()).unwrap();
        assert_eq!(h.names(), ["resize"]);
        assert_eq!(h.get("resize").unwrap().timeout_s, Some(30));
        assert!(Handlers::new([defs.clone(), defs].concat()).is_err());
        assert!(Handlers::parse_toml("[[handler]]\nname = \"x\"\nshell = true\n").is_err());
    }

    #[tokio::test]
    async fn a_step_reads_its_input_and_its_last_line_is_its_output() {
        let def = sh(
            "double",
            "read input; echo working >&2; echo \"log line\"; \
             echo \"{\\\"job\\\": \\\"$ORCHARD_JOB_ID\\\", \\\"attempt\\\": $ORCHARD_ATTEMPT, \\\"in\\\": $input}\"",
        );
        let out = run(&def, None).await.unwrap();
        assert_eq!(out, json!({"job": "j1", "attempt": 2, "in": {"x": 21}}));
        // An input over 1 MiB arrives as a file the step reads.
        let big = Value::String("x".repeat(MAX_STDIN_INPUT + 10));
        let reader = sh(
            "reader",
            "read head; case \"$head\" in *input_file*) wc -c < \"$ORCHARD_INPUT_FILE\";; *) echo 0;; esac",
        );
        let run_big = StepRun {
            job_id: "j1",
            step_id: "s1",
            attempt: 1,
            task_id: "t1",
            input: &big,
            timeout_s: None,
            supervisor: None,
            log: None,
        };
        let out = run_step(&reader, run_big).await.unwrap();
        assert_eq!(out, json!(MAX_STDIN_INPUT + 12));
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("orchard-input-t1-")
            });
        assert!(!left, "the input file is removed when the step ends");
        // A step that prints nothing outputs null.
        let quiet = run(
            &sh("quiet", "cat >/dev/null; echo only a log line >&2"),
            None,
        )
        .await;
        assert_eq!(quiet.unwrap(), Value::Null);
    }

    #[tokio::test]
    async fn exits_and_bad_output_say_what_happened() {
        let retry = run(&sh("r", "echo busy >&2; exit 75"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&retry, StepError::Retry(m) if m.contains("exit 75") && m.contains("busy")),
            "{retry:?}"
        );
        let fail = run(&sh("f", "echo boom >&2; exit 3"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&fail, StepError::Fail(m) if m.contains("exit 3") && m.contains("boom")),
            "{fail:?}"
        );
        let bad = run(&sh("b", "echo not json"), None).await.unwrap_err();
        assert!(
            matches!(&bad, StepError::Fail(m) if m.contains("not JSON")),
            "{bad:?}"
        );
        let big = run(
            &sh(
                "g",
                "head -c 1100000 /dev/zero | tr '\\0' 'a'; echo; echo 1",
            ),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&big, StepError::Fail(m) if m.contains("over 1 MiB")),
            "{big:?}"
        );
        let missing = HandlerDef {
            command: vec!["/no/such/program".into()],
            ..sh("m", "")
        };
        assert!(
            matches!(run(&missing, None).await, Err(StepError::Fail(m)) if m.contains("cannot start"))
        );
    }

    #[tokio::test]
    async fn max_concurrent_bounds_a_handlers_steps_on_this_worker() {
        let h = Handlers::new(vec![HandlerDef {
            max_concurrent: Some(1),
            limit: None,
            ..sh("one", "true")
        }])
        .unwrap();
        let first = h.place("one").await;
        assert!(first.is_some());
        let second = tokio::time::timeout(Duration::from_millis(100), h.place("one")).await;
        assert!(second.is_err(), "a second step waits while the first runs");
        drop(first);
        assert!(h.place("one").await.is_some());
        assert!(h.place("unlimited").await.is_none());
    }

    #[tokio::test]
    async fn a_timeout_stops_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("orchard-step-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("grandchild.pid");
        // The step starts a grandchild that would outlive it, then hangs.
        let script = format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display());
        let started = std::time::Instant::now();
        let e = run(&sh("slow", &script), Some(1)).await.unwrap_err();
        assert!(
            matches!(&e, StepError::Retry(m) if m.contains("timed out")),
            "{e:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1 + GRACE.as_secs() + 3));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild is gone (a zombie reaped by init counts as gone too).
        let mut alive = true;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            alive = !stat.is_empty() && !stat.contains(") Z ");
            if !alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!alive, "grandchild {pid} outlived its step");
        std::fs::remove_dir_all(&dir).ok();
    }
}
