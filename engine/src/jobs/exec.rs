//! Runs one leased task. The same code runs in `orchard serve`'s in-process workers and in
//! remote `orchard worker` processes; only the file store they are given differs.
//!
//! File-average files are text, one decimal integer in `0..=1000000` per line, each line
//! ending in `\n`. File `i` of a job is `jobs/<job id>/input/<i, 6 digits>.txt`, generated
//! from the job's seed and `i` alone, so a retried generate task writes identical files.

use super::params::{FileAverageParams, MAX_VALUE};
use super::protocol::LeasedTask;
use crate::files::{FileError, FileStore};
use serde_json::{Value, json};

/// Why a task did not produce an output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// Worth another attempt (I/O trouble, a file not there yet).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (malformed input).
    #[error("{0}")]
    Fatal(String),
}

impl From<FileError> for ExecError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::BadKey(_) => ExecError::Fatal(e.to_string()),
            _ => ExecError::Retryable(e.to_string()),
        }
    }
}

/// A partial or final result: the sum and count of the numbers seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Partial {
    pub sum: i64,
    pub count: i64,
}

impl Partial {
    pub fn to_json(self) -> Value {
        json!({ "sum": self.sum, "count": self.count })
    }
    pub fn from_json(v: &Value) -> Result<Self, ExecError> {
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_i64)
                .ok_or_else(|| ExecError::Fatal(format!("partial result lacks integer {k:?}: {v}")))
        };
        Ok(Partial {
            sum: field("sum")?,
            count: field("count")?,
        })
    }
    pub fn merge(self, o: Partial) -> Partial {
        Partial {
            sum: self.sum + o.sum,
            count: self.count + o.count,
        }
    }
    pub fn average(self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

pub fn input_key(job_id: &str, index: u32) -> String {
    format!("jobs/{job_id}/input/{index:06}.txt")
}

pub fn result_key(job_id: &str) -> String {
    format!("jobs/{job_id}/result.txt")
}

/// The numbers of file `index`: SplitMix64 seeded by the job seed and the index, so the
/// content never depends on which worker or attempt wrote it.
pub fn generate_file(seed: u64, index: u32, entries: u32) -> Vec<u8> {
    let mut state = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(entries as usize * 7);
    for _ in 0..entries {
        let v = next() % (MAX_VALUE + 1);
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Sums a file in the documented format; any other line is a fatal error naming the line.
pub fn sum_file(name: &str, bytes: &[u8]) -> Result<Partial, ExecError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ExecError::Fatal(format!("{name} is not UTF-8 text: {e}")))?;
    let mut p = Partial::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: i64 = line.parse().map_err(|_| {
            ExecError::Fatal(format!("{name} line {}: {line:?} is not an integer", i + 1))
        })?;
        p.sum = p
            .sum
            .checked_add(v)
            .ok_or_else(|| ExecError::Fatal(format!("{name}: sum overflows")))?;
        p.count += 1;
    }
    Ok(p)
}

fn file_range(payload: &Value) -> Result<(u32, u32), ExecError> {
    let get = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ExecError::Fatal(format!("task payload lacks {k:?}")))
    };
    Ok((get("first_file")?, get("end_file")?))
}

/// Runs a task and returns its output (for the root task, also the job's result).
/// `server` is the server's state for its own workers, `None` in a remote worker.
pub async fn run(
    task: &LeasedTask,
    files: &dyn FileStore,
    server: Option<&crate::state::Core>,
) -> Result<Value, ExecError> {
    match task.job_kind.as_str() {
        k if k.starts_with("tree_") => match server {
            Some(st) => crate::tasks::exec::run(task, st).await,
            None => Err(ExecError::Retryable(
                "tree jobs run on the server's own workers".into(),
            )),
        },
        "file_average" => run_file_average(task, files).await,
        "noop" => Ok(if task.is_root {
            json!({ "tasks": task.inputs.len() })
        } else {
            json!({})
        }),
        other => Err(ExecError::Fatal(format!("unknown job kind {other:?}"))),
    }
}

async fn run_file_average(task: &LeasedTask, files: &dyn FileStore) -> Result<Value, ExecError> {
    let params: FileAverageParams = serde_json::from_value(task.job_params.clone())
        .map_err(|e| ExecError::Fatal(format!("bad job parameters: {e}")))?;
    match task.phase.as_str() {
        "generate" => {
            let (first, end) = file_range(&task.payload)?;
            for i in first..end {
                let bytes = generate_file(params.seed, i, params.entries);
                files.put(&input_key(&task.job_id, i), bytes).await?;
            }
            Ok(json!({ "files": end - first }))
        }
        "map" => {
            let (first, end) = file_range(&task.payload)?;
            // The group's files are fetched together: one wait instead of one per file.
            let keys: Vec<String> = (first..end).map(|i| input_key(&task.job_id, i)).collect();
            let contents = files.get_many(&keys).await?;
            let mut total = Partial::default();
            for (key, bytes) in keys.iter().zip(&contents) {
                total = total.merge(sum_file(key, bytes)?);
            }
            Ok(total.to_json())
        }
        "reduce" => {
            let mut total = Partial::default();
            for input in &task.inputs {
                total = total.merge(Partial::from_json(input)?);
            }
            if !task.is_root {
                return Ok(total.to_json());
            }
            let average = total.average();
            let key = result_key(&task.job_id);
            let text = format!(
                "average\t{average}\nsum\t{}\ncount\t{}\nfiles\t{}\n",
                total.sum, total.count, params.files
            );
            files.put(&key, text.into_bytes()).await?;
            Ok(json!({
                "sum": total.sum,
                "count": total.count,
                "average": average,
                "result_file": key,
            }))
        }
        other => Err(ExecError::Fatal(format!("unknown phase {other:?}"))),
    }
}

/// Recomputes a file-average job's result in one pass over every input file.
pub async fn verify_file_average(
    job_id: &str,
    params: &FileAverageParams,
    files: &dyn FileStore,
) -> Result<Partial, ExecError> {
    let mut total = Partial::default();
    for i in 0..params.files {
        let key = input_key(job_id, i);
        total = total.merge(sum_file(&key, &files.get(&key).await?)?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_in_range() {
        let a = generate_file(42, 3, 1000);
        assert_eq!(a, generate_file(42, 3, 1000));
        assert_ne!(a, generate_file(42, 4, 1000));
        let p = sum_file("f", &a).unwrap();
        assert_eq!(p.count, 1000);
        let avg = p.average();
        assert!(avg > 400_000.0 && avg < 600_000.0, "{avg}");
    }

    #[test]
    fn malformed_lines_are_fatal_and_named() {
        let e = sum_file("f.txt", b"1\n2\nthree\n").unwrap_err();
        assert_eq!(
            e,
            ExecError::Fatal("f.txt line 3: \"three\" is not an integer".into())
        );
        assert_eq!(sum_file("f", b"").unwrap(), Partial::default());
    }

    #[test]
    fn partials_round_trip_through_json() {
        let p = Partial { sum: 10, count: 4 };
        assert_eq!(Partial::from_json(&p.to_json()).unwrap(), p);
        assert!(Partial::from_json(&json!({"sum": 1})).is_err());
    }
}
