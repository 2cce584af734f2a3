//! The live heads of recently read passports, kept in memory so that a read need not ask the
//! database for them again while the passport has not changed (issue 15: the heads query was
//! the costliest statement of a read).
//!
//! An entry is keyed by passport and by the set of sections read (a caller's readable sections:
//! rows a caller may not see are never read for it), and holds the sequence number and history
//! head it was read at. A read uses it only if its own access-context read (made on every request, after the
//! grant check) returns the same sequence and head: any new version, on any instance, moves
//! both, so a changed passport is read again, never served stale. Entries hold the rows as
//! stored, sealed (AES-256-GCM under the passport's data key): nothing is decrypted until a
//! read opens the rows of the sections its caller may see. Erasing a passport evicts it here;
//! other instances can no longer use theirs (the passport answers 410 before any heads are
//! read) and forget them as the cache turns over.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use wp_schemas::sections::Section;

use super::AppState;
use super::store::{PassportRow, VersionRow};
use crate::domain::ids::PassportId;
use crate::error::Result;
use crate::metrics;

/// Bytes of sealed rows the cache holds at most: the benchmark's 512 hot passports (two
/// sections each) fit, and the server stays under its 64 MiB memory budget.
pub const HEADS_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// A passport and a set of its sections (bit `i` for `Section::ALL[i]`).
type Key = (PassportId, u8);

fn mask(sections: &[Section]) -> u8 {
    Section::ALL
        .iter()
        .enumerate()
        .filter(|(_, s)| sections.contains(s))
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// A passport's live heads in some sections, as of `seq` and `head`.
#[derive(Clone)]
struct Heads {
    seq: i64,
    head: Arc<str>,
    rows: Arc<[VersionRow]>,
    bytes: u64,
}

#[derive(Clone)]
struct BySize;

impl Weighter<Key, Heads> for BySize {
    fn weight(&self, _: &Key, heads: &Heads) -> u64 {
        heads.bytes
    }
}

pub struct HeadsCache(Cache<Key, Heads, BySize>);

impl Default for HeadsCache {
    fn default() -> Self {
        HeadsCache(Cache::with_weighter(4096, HEADS_CACHE_BYTES, BySize))
    }
}

impl HeadsCache {
    /// Forgets a passport (it was erased): every set of its sections.
    pub fn evict(&self, passport: &PassportId) {
        for sections in 0..1u8 << Section::ALL.len() {
            self.0.remove(&(passport.clone(), sections));
        }
    }

    fn get(&self, passport: &PassportRow, sections: u8) -> Option<Arc<[VersionRow]>> {
        self.0
            .get(&(passport.id.clone(), sections))
            .filter(|h| h.seq == passport.seq && *h.head == *passport.head)
            .map(|h| h.rows)
    }
}

/// The live heads of `passport` in `sections`, sealed, in sequence order: from the cache when
/// it holds them at the sequence and head the access-context read returned, else from the
/// database.
pub async fn live_heads(
    state: &AppState,
    passport: &PassportRow,
    sections: &[Section],
) -> Result<Vec<VersionRow>> {
    let key = mask(sections);
    let cached = state.heads.get(passport, key);
    state.metrics.cache(metrics::Cache::Heads, cached.is_some());
    let rows = match cached {
        Some(rows) => rows,
        None => {
            let rows: Arc<[VersionRow]> = state
                .store
                .live_heads_in(&passport.id, sections)
                .await?
                .into();
            let bytes = rows
                .iter()
                .map(|r| (r.sealed.len() + r.hash.len() + 160) as u64)
                .sum();
            // Rows read after the context may be newer than its sequence: keyed under that
            // sequence they are only ever served to reads that raced the same change.
            state.heads.0.insert(
                (passport.id.clone(), key),
                Heads {
                    seq: passport.seq,
                    head: passport.head.as_str().into(),
                    rows: rows.clone(),
                    bytes,
                },
            );
            rows
        }
    };
    Ok(rows.to_vec())
}
