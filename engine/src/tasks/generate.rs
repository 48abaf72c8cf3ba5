//! Random trees (seed 000's `/generate`): each task gets 0 to `max_children` children until
//! `max_depth`, names of `name_length` random letters, about one task in four done; growth
//! stops at `max_tasks`. The same parameters and seed give the same file. Written depth
//! first straight to the output, so memory stays bounded by depth.

use super::model::GenerateParams;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Largest values accepted for each parameter.
pub const MAX_DEPTH: u32 = 100_000;
pub const MAX_CHILDREN: u32 = 100_000;
pub const MAX_NAME: u32 = 200;
pub const MAX_ROOTS: u32 = 1_000_000;
pub const MAX_TASKS: u64 = 5_000_000;

/// Checks the bounds; the message says which parameter is out of range.
pub fn validate(p: &GenerateParams) -> Result<(), String> {
    let check = |name: &str, v: u64, lo: u64, hi: u64| {
        if v < lo || v > hi {
            Err(format!("{name} must be between {lo} and {hi} (got {v})"))
        } else {
            Ok(())
        }
    };
    check("max_depth", p.max_depth as u64, 1, MAX_DEPTH as u64)?;
    check(
        "max_children",
        p.max_children as u64,
        0,
        MAX_CHILDREN as u64,
    )?;
    check("name_length", p.name_length as u64, 1, MAX_NAME as u64)?;
    check("roots", p.roots as u64, 1, MAX_ROOTS as u64)?;
    check("max_tasks", p.max_tasks, 1, MAX_TASKS)?;
    Ok(())
}

fn name(rng: &mut StdRng, len: u32, out: &mut Vec<u8>) {
    out.push(b'"');
    for i in 0..len {
        let c = rng.gen_range(b'a'..=b'z');
        out.push(if i == 0 { c.to_ascii_uppercase() } else { c });
    }
    out.push(b'"');
}

fn task_head(rng: &mut StdRng, p: &GenerateParams, out: &mut Vec<u8>) {
    let id = uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid();
    let done = rng.gen_ratio(1, 4);
    out.extend_from_slice(format!("{{\"id\":\"{id}\",\"name\":").as_bytes());
    name(rng, p.name_length, out);
    out.extend_from_slice(format!(",\"isDone\":{done},\"tasks\":[").as_bytes());
}

/// Writes a random tree for `p` with `seed`; `progress` hears the number of tasks written
/// now and then. Returns how many tasks were written.
pub async fn write_random<W: AsyncWrite + Unpin>(
    p: &GenerateParams,
    seed: u64,
    out: &mut W,
    mut progress: impl FnMut(u64),
) -> std::io::Result<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    buf.extend_from_slice(b"{\"tasks\":[");
    let mut written = 0u64;
    // Children still to write for each open task, root first.
    let mut open: Vec<u32> = Vec::new();
    let mut roots_left = p.roots;
    let mut first = true;
    loop {
        if written >= p.max_tasks {
            // Close whatever is open.
            for _ in open.drain(..) {
                buf.extend_from_slice(b"]}");
            }
            break;
        }
        let next = match open.last_mut() {
            Some(0) => {
                open.pop();
                buf.extend_from_slice(b"]}");
                first = false;
                continue;
            }
            Some(left) => {
                *left -= 1;
                true
            }
            None if roots_left > 0 => {
                roots_left -= 1;
                true
            }
            None => false,
        };
        if !next {
            break;
        }
        if !first {
            buf.push(b',');
        }
        task_head(&mut rng, p, &mut buf);
        written += 1;
        let depth = open.len() as u32 + 1;
        let children = if depth < p.max_depth && p.max_children > 0 {
            rng.gen_range(0..=p.max_children)
        } else {
            0
        };
        open.push(children);
        first = true;
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).await?;
            buf.clear();
            progress(written);
        }
    }
    buf.extend_from_slice(b"]}\n");
    out.write_all(&buf).await?;
    out.flush().await?;
    progress(written);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::import::{ParseOptions, parse};

    fn params(max_tasks: u64) -> GenerateParams {
        GenerateParams {
            max_depth: 4,
            max_children: 5,
            name_length: 8,
            roots: 3,
            max_tasks,
            seed: None,
            import: false,
        }
    }

    async fn generate(p: &GenerateParams, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_random(p, seed, &mut out, |_| {}).await.unwrap();
        out
    }

    #[tokio::test]
    async fn same_seed_same_tree_and_it_parses() {
        let p = params(1_000);
        let a = generate(&p, 7).await;
        assert_eq!(a, generate(&p, 7).await);
        assert_ne!(a, generate(&p, 8).await);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert!(v["tasks"].as_array().unwrap().len() <= 3);
        let mut n = 0;
        let s = parse(&a[..], &ParseOptions::default(), |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(s.tasks, n);
        assert!(n <= 1_000);
    }

    #[tokio::test]
    async fn the_cap_and_depth_hold() {
        let mut p = params(50);
        p.max_children = 100;
        let a = generate(&p, 1).await;
        let mut rows = Vec::new();
        parse(&a[..], &ParseOptions::default(), |t, _| {
            rows.push(t);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows.len(), 50);
        // A chain: one root, one child each, depth 30.
        let chain = GenerateParams {
            max_depth: 30,
            max_children: 1,
            roots: 1,
            max_tasks: 1_000,
            ..params(0)
        };
        let mut out = Vec::new();
        let mut rng_depths = 0;
        write_random(&chain, 3, &mut out, |_| {}).await.unwrap();
        parse(&out[..], &ParseOptions::default(), |_, _| {
            rng_depths += 1;
            Ok(())
        })
        .unwrap();
        assert!(rng_depths <= 30);
        assert!(validate(&params(0)).is_err());
        assert!(validate(&params(10)).is_ok());
    }
}
