//! File-average jobs (seed 003): generate F files of C random numbers, sum them in groups
//! (map), and combine the partial sums five at a time (reduce) until one remains, whose
//! average is the job's result.
//!
//! Files are text, one decimal integer in `0..=1000000` per line, each line ending in `\n`.
//! File `i` of a job is `jobs/<job id>/input/<i, 6 digits>.txt`, generated from the job's
//! seed and `i` alone, so a retried generate task writes identical files.

use super::params::{FileAverageParams, MAX_VALUE, REDUCE_FAN_IN};
use super::plan::TaskSpec;
use super::protocol::LeasedTask;
use crate::files::FileStore;
use crate::jobs::model::JobKind;
use crate::kinds::{ExecError, Kind, Worksite};
use async_trait::async_trait;
use serde_json::{Value, json};

/// The kind.
pub struct FileAverage;

#[async_trait]
impl Kind for FileAverage {
    fn kind(&self) -> JobKind {
        JobKind::FileAverage
    }

    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        run(task, at.files).await
    }
}

/// A file-average job's phases, in the order its tasks become ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Writes a group's input files.
    Generate,
    /// Sums a group's files.
    Map,
    /// Combines partial sums; the root writes the result.
    Reduce,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Generate, Phase::Map, Phase::Reduce];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Generate => "generate",
            Phase::Map => "map",
            Phase::Reduce => "reduce",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ExecError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ExecError::Fatal(format!("unknown file-average phase {s:?}")))
    }
}

/// The task graph of a file-average job of G = ⌈F / group⌉ groups, in claim order: G generate
/// tasks (each writes its group's files) each feed one of G map tasks (each sums its group),
/// which feed reduce tasks combining 5 partials each, level by level, up to one root reduce
/// that writes the result.
pub fn plan(p: &FileAverageParams) -> Vec<TaskSpec> {
    let groups = p.groups() as usize;
    let mut tasks = Vec::with_capacity(groups * 2 + groups / (REDUCE_FAN_IN - 1) + 2);
    let range = |g: usize| {
        let start = g as u32 * p.group_size;
        json!({ "first_file": start, "end_file": (start + p.group_size).min(p.files) })
    };
    for g in 0..groups {
        tasks.push(TaskSpec {
            phase: Phase::Generate.as_str(),
            payload: range(g),
            deps: Vec::new(),
            handler: None,
            retry: None,
            after_all: false,
        });
    }
    for g in 0..groups {
        tasks.push(TaskSpec {
            phase: Phase::Map.as_str(),
            payload: range(g),
            deps: vec![g],
            handler: None,
            retry: None,
            after_all: false,
        });
    }
    // Reduce levels: combine the previous level's outputs REDUCE_FAN_IN at a time until one
    // task remains. A single group still gets one reduce: the root always writes the result.
    let mut level_start = groups;
    let mut level_len = groups;
    let mut level = 1;
    loop {
        let next_len = level_len.div_ceil(REDUCE_FAN_IN);
        let next_start = tasks.len();
        for r in 0..next_len {
            let first = level_start + r * REDUCE_FAN_IN;
            let len = REDUCE_FAN_IN.min(level_len - r * REDUCE_FAN_IN);
            tasks.push(TaskSpec {
                phase: Phase::Reduce.as_str(),
                payload: json!({ "level": level, "index": r }),
                deps: (first..first + len).collect(),
                handler: None,
                retry: None,
                after_all: false,
            });
        }
        if next_len == 1 {
            break;
        }
        level_start = next_start;
        level_len = next_len;
        level += 1;
    }
    tasks
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

async fn run(task: &LeasedTask, files: &dyn FileStore) -> Result<Value, ExecError> {
    let params: FileAverageParams = serde_json::from_value(task.job_params.clone())
        .map_err(|e| ExecError::Fatal(format!("bad job parameters: {e}")))?;
    match Phase::parse(&task.phase)? {
        Phase::Generate => {
            let (first, end) = file_range(&task.payload)?;
            for i in first..end {
                let bytes = generate_file(params.seed, i, params.entries);
                files.put(&input_key(&task.job_id, i), bytes).await?;
            }
            Ok(json!({ "files": end - first }))
        }
        Phase::Map => {
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
        Phase::Reduce => {
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

    fn params(files: u32, group_size: u32) -> FileAverageParams {
        FileAverageParams {
            workers: 2,
            files,
            entries: 10,
            group_size,
            seed: 1,
        }
    }

    #[test]
    fn one_group_still_has_a_root_reduce() {
        let t = plan(&params(3, 5));
        assert_eq!(t.len(), 3);
        super::super::plan::check_one_sink(&t);
    }

    #[test]
    fn groups_of_five_reduce_level_by_level() {
        // 130 files / 5 = 26 groups → 26 map → 6 reduce → 2 reduce → 1 root.
        let t = plan(&params(130, 5));
        assert_eq!(
            t.iter()
                .filter(|t| t.phase == Phase::Generate.as_str())
                .count(),
            26
        );
        assert_eq!(
            t.iter()
                .filter(|t| t.phase == Phase::Reduce.as_str())
                .count(),
            6 + 2 + 1
        );
        super::super::plan::check_one_sink(&t);
    }

    #[test]
    fn last_group_is_short() {
        let t = plan(&params(7, 5));
        assert_eq!(t[1].payload["first_file"], 5);
        assert_eq!(t[1].payload["end_file"], 7);
        super::super::plan::check_one_sink(&t);
    }
}
