//! Parameters of each job kind, validated by parsing: a `FileAverageParams` that exists is
//! within bounds, so the planner and the workers never see nonsense.

use serde::{Deserialize, Serialize};

/// The most files one job may generate.
pub const MAX_FILES: u32 = 100_000;
/// The most numbers one file may hold.
pub const MAX_ENTRIES: u32 = 1_000_000;
/// The most numbers one job may generate in all (files × entries).
pub const MAX_TOTAL_ENTRIES: u64 = 200_000_000;
/// The largest per-job concurrency.
pub const MAX_CONCURRENCY: u32 = 256;
/// The largest group of files per map task.
pub const MAX_GROUP_SIZE: u32 = 1_000;
/// How many partial results one reduce task combines (the seed's 5).
pub const REDUCE_FAN_IN: usize = 5;
/// The largest generated number; numbers are integers in `0..=MAX_VALUE`.
pub const MAX_VALUE: u64 = 1_000_000;

/// The most tasks one no-op job may have.
pub const MAX_NOOP_TASKS: u32 = 1_000_000;

/// A no-op job: `tasks` tasks that do nothing, at most `workers` at once. It measures the
/// queue's own cost (claim, lease, complete) with no work in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoopParams {
    pub tasks: u32,
    pub workers: u32,
}

impl NoopParams {
    pub fn validate(self) -> Result<Self, String> {
        if self.tasks == 0 || self.tasks > MAX_NOOP_TASKS {
            return Err(format!("tasks must be between 1 and {MAX_NOOP_TASKS}"));
        }
        if self.workers == 0 || self.workers > MAX_CONCURRENCY {
            return Err(format!(
                "workers (W) must be between 1 and {MAX_CONCURRENCY}"
            ));
        }
        Ok(self)
    }
}

/// What a person or script asks for when creating a file-average job (seed 003's W, F, C).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileAverageRequest {
    /// W: most of this job's tasks that run at once.
    pub workers: u32,
    /// F: number of files to generate and average.
    pub files: u32,
    /// C: numbers per file.
    pub entries: u32,
    /// Files per map task (5 by default, as in the seed).
    #[serde(default = "default_group_size")]
    pub group_size: u32,
    /// Random seed; the same seed generates the same files.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn default_group_size() -> u32 {
    5
}

/// Validated file-average parameters, as stored with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAverageParams {
    pub workers: u32,
    pub files: u32,
    pub entries: u32,
    pub group_size: u32,
    pub seed: u64,
}

impl FileAverageParams {
    /// The most bytes of files the job writes: every number at its widest, a newline each,
    /// and the result file.
    pub fn most_file_bytes(&self) -> u64 {
        let widest = MAX_VALUE.to_string().len() as u64 + 1;
        self.files as u64 * self.entries as u64 * widest + 4096
    }

    /// Checks every bound and fills in a seed when none was given.
    pub fn parse(req: FileAverageRequest, fallback_seed: u64) -> Result<Self, String> {
        fn within(name: &str, v: u32, max: u32) -> Result<u32, String> {
            if v == 0 || v > max {
                Err(format!("{name} must be between 1 and {max}, got {v}"))
            } else {
                Ok(v)
            }
        }
        let workers = within("workers (W)", req.workers, MAX_CONCURRENCY)?;
        let files = within("files (F)", req.files, MAX_FILES)?;
        let entries = within("entries per file (C)", req.entries, MAX_ENTRIES)?;
        let group_size = within("group size", req.group_size, MAX_GROUP_SIZE)?;
        let total = files as u64 * entries as u64;
        if total > MAX_TOTAL_ENTRIES {
            return Err(format!(
                "files × entries is {total}, more than the limit of {MAX_TOTAL_ENTRIES}"
            ));
        }
        Ok(Self {
            workers,
            files,
            entries,
            group_size,
            seed: req.seed.unwrap_or(fallback_seed),
        })
    }

    /// Number of map tasks (and generate tasks): ⌈F / group size⌉.
    pub fn groups(&self) -> u32 {
        self.files.div_ceil(self.group_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(workers: u32, files: u32, entries: u32, group_size: u32) -> FileAverageRequest {
        FileAverageRequest {
            workers,
            files,
            entries,
            group_size,
            seed: Some(7),
        }
    }

    #[test]
    fn accepts_the_seed_defaults() {
        let p = FileAverageParams::parse(req(4, 23, 100, 5), 1).unwrap();
        assert_eq!(p.groups(), 5);
        assert_eq!(p.seed, 7);
    }

    #[test]
    fn rejects_zero_and_oversized_values() {
        assert!(
            FileAverageParams::parse(req(0, 1, 1, 5), 1)
                .unwrap_err()
                .contains("workers")
        );
        assert!(
            FileAverageParams::parse(req(1, 0, 1, 5), 1)
                .unwrap_err()
                .contains("files")
        );
        assert!(
            FileAverageParams::parse(req(1, 1, 0, 5), 1)
                .unwrap_err()
                .contains("entries")
        );
        assert!(
            FileAverageParams::parse(req(1, 1, 1, 0), 1)
                .unwrap_err()
                .contains("group")
        );
        assert!(FileAverageParams::parse(req(1, MAX_FILES + 1, 1, 5), 1).is_err());
        let too_many = FileAverageParams::parse(req(1, MAX_FILES, MAX_ENTRIES, 5), 1);
        assert!(too_many.unwrap_err().contains("limit"));
    }

    #[test]
    fn missing_seed_uses_the_fallback() {
        let mut r = req(1, 1, 1, 5);
        r.seed = None;
        assert_eq!(FileAverageParams::parse(r, 99).unwrap().seed, 99);
    }
}
