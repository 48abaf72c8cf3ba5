//! The per-step supervisor: `orchard supervise-step -- COMMAND…`, which a worker starts in a
//! process group of its own for each step. It runs the handler's command in that group (with
//! the stdin, stdout, stderr, environment and folder it was given), answers with the
//! command's exit code, and if the worker that started it dies (it finds itself adopted by
//! another parent) it kills the whole group, so no step's process outlives its worker.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::getpgrp;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// How often the supervisor looks for its worker's death.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Runs `command` to its end and returns the exit code to leave with. The command's end is
/// awaited directly (a step is over the moment it exits); a thread of its own watches for
/// the worker's death.
pub fn supervise(command: &[String]) -> i32 {
    let Some((program, args)) = command.split_first() else {
        eprintln!("supervise-step: no command given");
        return 2;
    };
    let worker = std::os::unix::process::parent_id();
    let mut child = match std::process::Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {program:?}: {e}");
            return 127;
        }
    };
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(LOOK_EVERY);
            if std::os::unix::process::parent_id() != worker {
                // The worker is gone: nothing of this step may outlive it (this process
                // included).
                let _ = killpg(getpgrp(), Signal::SIGKILL);
                std::process::exit(137);
            }
        }
    });
    match child.wait() {
        Ok(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(Signal::SIGKILL as i32)),
        Err(e) => {
            eprintln!("supervise-step: waiting for {program:?}: {e}");
            1
        }
    }
}
