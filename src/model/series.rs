//! A bounded, multi-resolution store of one channel's samples for live plots.
//!
//! Samples arrive in time order (seconds on the host's timeline, `f64`) and are kept three ways: a ring of the
//! most recent raw samples, and a pyramid of min/max blocks (64 samples, then 16× coarser per level), each
//! level a ring of its own. Memory is bounded by the ring capacities, while the coarse levels keep hours of
//! history. [`Series::envelope`] reduces any time range to one min/max pair per pixel column by scanning the
//! coarsest source that still resolves a column, so the cost of a plot depends on its width, not on the length
//! of the history.
//!
//! Invariants: times never decrease (a sample older than the last is stamped with the last time); NaN
//! samples are not stored; every closed block of level `k + 1` is the union of `LEVEL_FACTOR` consecutive
//! blocks of level `k`. This is a view store, not a measurement store: min/max are exact, but blocks may
//! bridge gaps, and nothing here is written to disk.

use std::collections::VecDeque;

/// Raw samples per level-0 block.
pub const BLOCK_SAMPLES: usize = 64;
/// Blocks of one level per block of the next.
pub const LEVEL_FACTOR: usize = 16;
/// Number of block levels (64, 1 Ki, 16 Ki and 256 Ki samples per block).
pub const LEVELS: usize = 4;

/// How much a series keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Most raw samples kept (12 bytes each).
    pub raw_samples: usize,
    /// Most blocks kept per level (24 bytes each).
    pub blocks_per_level: usize,
}

impl Default for SeriesLimits {
    /// 4 Mi raw samples (48 MB) and 1 Mi blocks per level (24 MB): at 1 MS/s, 4 s of raw samples, an hour of
    /// 1 Ki-sample blocks' worth of history at level 1 for 17 minutes, and days at the coarsest level.
    fn default() -> Self {
        Self { raw_samples: 4 << 20, blocks_per_level: 1 << 20 }
    }
}

/// Min and max of a run of samples, with the times of its first and last sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    /// Time of the first sample, s.
    pub t_first: f64,
    /// Time of the last sample, s.
    pub t_last: f64,
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

impl Block {
    fn sample(t: f64, v: f32) -> Self {
        Self { t_first: t, t_last: t, min: v, max: v }
    }

    fn merge(&mut self, other: &Block) {
        self.t_last = other.t_last;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// One pixel column of an envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Start time of the column, s.
    pub t: f64,
    /// Smallest value in the column.
    pub min: f32,
    /// Largest value in the column.
    pub max: f32,
}

/// A partial block being filled, with how many items it holds.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    block: Option<Block>,
    items: usize,
}

impl Pending {
    fn add(&mut self, item: &Block, count: usize) {
        match &mut self.block {
            Some(block) => block.merge(item),
            None => self.block = Some(*item),
        }
        self.items += count;
    }
}

/// Samples of one channel; see the module docs.
#[derive(Debug, Clone)]
pub struct Series {
    limits: SeriesLimits,
    raw_t: VecDeque<f64>,
    raw_v: VecDeque<f32>,
    levels: [VecDeque<Block>; LEVELS],
    pending: [Pending; LEVELS],
    /// Whether anything was ever evicted from the raw ring / each level (then it no longer covers the start).
    raw_evicted: bool,
    level_evicted: [bool; LEVELS],
    last_t: f64,
    samples_total: u64,
}

impl Default for Series {
    fn default() -> Self {
        Self::new(SeriesLimits::default())
    }
}

impl Series {
    /// An empty series with these limits.
    pub fn new(limits: SeriesLimits) -> Self {
        Self {
            limits: SeriesLimits {
                raw_samples: limits.raw_samples.max(1),
                blocks_per_level: limits.blocks_per_level.max(1),
            },
            raw_t: VecDeque::new(),
            raw_v: VecDeque::new(),
            levels: Default::default(),
            pending: [Pending::default(); LEVELS],
            raw_evicted: false,
            level_evicted: [false; LEVELS],
            last_t: f64::NEG_INFINITY,
            samples_total: 0,
        }
    }

    /// Samples ever pushed (including those no longer kept raw).
    pub fn samples_total(&self) -> u64 {
        self.samples_total
    }

    /// Raw samples currently kept.
    pub fn raw_len(&self) -> usize {
        self.raw_v.len()
    }

    /// The most recent sample.
    pub fn last(&self) -> Option<(f64, f32)> {
        Some((*self.raw_t.back()?, *self.raw_v.back()?))
    }

    /// Time of the oldest sample still represented at any resolution, and of the newest.
    pub fn time_range(&self) -> Option<(f64, f64)> {
        let newest = *self.raw_t.back()?;
        let oldest_raw = self.raw_t.front().copied().unwrap_or(newest);
        let oldest = self.levels.iter().filter_map(|l| l.front()).map(|b| b.t_first).fold(oldest_raw, f64::min);
        Some((oldest, newest))
    }

    /// Appends one sample at time `t_s`.
    pub fn push(&mut self, t_s: f64, value: f32) {
        if value.is_nan() || t_s.is_nan() {
            return;
        }
        let t = t_s.max(self.last_t);
        self.last_t = t;
        self.samples_total += 1;
        if self.raw_v.len() == self.limits.raw_samples {
            self.raw_t.pop_front();
            self.raw_v.pop_front();
            self.raw_evicted = true;
        }
        self.raw_t.push_back(t);
        self.raw_v.push_back(value);
        self.feed(0, &Block::sample(t, value), 1, BLOCK_SAMPLES);
    }

    /// Appends evenly spaced samples: the first at `t0_s`, then every `period_s`. Same result as pushing them
    /// one by one, but block extremes are computed a run at a time.
    pub fn push_batch(&mut self, t0_s: f64, period_s: f64, values: &[f32]) {
        let simple = t0_s >= self.last_t && period_s >= 0.0 && !values.iter().any(|v| v.is_nan());
        if !simple {
            for (i, &value) in values.iter().enumerate() {
                self.push(t0_s + i as f64 * period_s, value);
            }
            return;
        }
        if values.is_empty() {
            return;
        }
        let time = |i: usize| t0_s + i as f64 * period_s;
        let keep = values.len().min(self.limits.raw_samples);
        let evict = (self.raw_v.len() + keep).saturating_sub(self.limits.raw_samples);
        if evict > 0 {
            self.raw_t.drain(..evict);
            self.raw_v.drain(..evict);
            self.raw_evicted = true;
        }
        if keep < values.len() {
            self.raw_evicted = true;
        }
        let first_kept = values.len() - keep;
        self.raw_t.extend((first_kept..values.len()).map(time));
        self.raw_v.extend(values[first_kept..].iter().copied());
        let mut start = 0;
        while start < values.len() {
            let room = BLOCK_SAMPLES - self.pending[0].items;
            let end = (start + room).min(values.len());
            let run = &values[start..end];
            let (min, max) = run.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let block = Block { t_first: time(start), t_last: time(end - 1), min, max };
            self.feed(0, &block, run.len(), BLOCK_SAMPLES);
            start = end;
        }
        self.last_t = time(values.len() - 1);
        self.samples_total += values.len() as u64;
    }

    /// Adds `item`, standing for `count` items of this level, to level `level`'s pending block, closing the
    /// block once it holds `capacity` items.
    fn feed(&mut self, level: usize, item: &Block, count: usize, capacity: usize) {
        self.pending[level].add(item, count);
        if self.pending[level].items < capacity {
            return;
        }
        let Some(block) = self.pending[level].block.take() else {
            return;
        };
        self.pending[level].items = 0;
        let ring = &mut self.levels[level];
        if ring.len() == self.limits.blocks_per_level {
            ring.pop_front();
            self.level_evicted[level] = true;
        }
        ring.push_back(block);
        if level + 1 < LEVELS {
            self.feed(level + 1, &block, 1, LEVEL_FACTOR);
        }
    }

    /// The partial block of level `level` including everything finer that is not yet in a closed block.
    fn tail(&self, level: usize) -> Option<Block> {
        let mut tail: Option<Block> = None;
        for pending in self.pending[..=level].iter().rev() {
            if let Some(block) = &pending.block {
                match &mut tail {
                    Some(t) => t.merge(block),
                    None => tail = Some(*block),
                }
            }
        }
        tail
    }

    /// Typical duration of one item of `level` (`None` = raw), from what the level holds.
    fn item_duration(&self, level: Option<usize>) -> Option<f64> {
        match level {
            None => {
                let n = self.raw_t.len();
                (n >= 2).then(|| (self.raw_t[n - 1] - self.raw_t[0]) / (n - 1) as f64)
            }
            Some(k) => {
                let ring = &self.levels[k];
                let (first, last) = (ring.front()?, ring.back()?);
                Some((last.t_last - first.t_first) / ring.len() as f64)
            }
        }
    }

    /// Whether `level` (`None` = raw) still holds data from `t_s` on.
    fn covers(&self, level: Option<usize>, t_s: f64) -> bool {
        match level {
            None => !self.raw_evicted || self.raw_t.front().is_some_and(|&t| t <= t_s),
            Some(k) => {
                let ring = &self.levels[k];
                !ring.is_empty() && (!self.level_evicted[k] || ring.front().is_some_and(|b| b.t_first <= t_s))
            }
        }
    }

    /// One min/max pair per column over `[t0_s, t1_s)` split into `columns` equal columns; columns without
    /// data are left out.
    pub fn envelope(&self, t0_s: f64, t1_s: f64, columns: usize) -> Vec<Column> {
        let mut out = Vec::new();
        if columns == 0 || t1_s.partial_cmp(&t0_s) != Some(std::cmp::Ordering::Greater) || self.raw_v.is_empty() {
            return out;
        }
        let width = (t1_s - t0_s) / columns as f64;
        let level = self.choose_level(t0_s, width);
        let mut cells: Vec<Option<(f32, f32)>> = vec![None; columns];
        let mut add = |t: f64, min: f32, max: f32| {
            if t < t0_s - width || t >= t1_s {
                return;
            }
            let i = (((t - t0_s) / width).floor().max(0.0) as usize).min(columns - 1);
            cells[i] = Some(match cells[i] {
                Some((lo, hi)) => (lo.min(min), hi.max(max)),
                None => (min, max),
            });
        };
        match level {
            None => {
                let start = self.raw_t.partition_point(|&t| t < t0_s);
                for i in start..self.raw_t.len() {
                    let t = self.raw_t[i];
                    if t >= t1_s {
                        break;
                    }
                    add(t, self.raw_v[i], self.raw_v[i]);
                }
            }
            Some(k) => {
                let ring = &self.levels[k];
                let start = ring.partition_point(|b| b.t_last < t0_s);
                for block in ring.range(start..) {
                    if block.t_first >= t1_s {
                        break;
                    }
                    add(block.t_first.max(t0_s), block.min, block.max);
                }
                if let Some(tail) = self.tail(k)
                    && tail.t_last >= t0_s
                {
                    add(tail.t_first.max(t0_s), tail.min, tail.max);
                }
            }
        }
        for (i, cell) in cells.into_iter().enumerate() {
            if let Some((min, max)) = cell {
                out.push(Column { t: t0_s + i as f64 * width, min, max });
            }
        }
        out
    }

    /// The coarsest source whose items are no longer than a column and that covers `t0_s`; failing that the
    /// finest source that covers it (older history is only kept coarse); failing that the level reaching
    /// furthest back. `None` is the raw ring.
    fn choose_level(&self, t0_s: f64, column_s: f64) -> Option<usize> {
        let sources = [None, Some(0), Some(1), Some(2), Some(3)];
        let fits =
            |level: Option<usize>| self.covers(level, t0_s) && self.item_duration(level).is_some_and(|d| d <= column_s);
        if let Some(&level) = sources.iter().rev().find(|&&l| fits(l)) {
            return level;
        }
        if let Some(&level) = sources.iter().find(|&&l| self.covers(l, t0_s)) {
            return level;
        }
        (0..LEVELS).rev().find(|&k| !self.levels[k].is_empty())
    }

    /// The raw sample nearest to `t_s`, if raw samples around it are still kept.
    pub fn nearest(&self, t_s: f64) -> Option<(f64, f32)> {
        if self.raw_t.is_empty() || !self.covers(None, t_s) {
            return None;
        }
        let i = self.raw_t.partition_point(|&t| t < t_s);
        let candidates = [i.checked_sub(1), (i < self.raw_t.len()).then_some(i)];
        candidates
            .into_iter()
            .flatten()
            .min_by(|&a, &b| (self.raw_t[a] - t_s).abs().total_cmp(&(self.raw_t[b] - t_s).abs()))
            .map(|i| (self.raw_t[i], self.raw_v[i]))
    }

    /// Raw samples in `[t0_s, t1_s)`, oldest first (for export and read-outs).
    pub fn raw_range(&self, t0_s: f64, t1_s: f64) -> impl Iterator<Item = (f64, f32)> + '_ {
        let start = self.raw_t.partition_point(|&t| t < t0_s);
        (start..self.raw_t.len()).map(|i| (self.raw_t[i], self.raw_v[i])).take_while(move |&(t, _)| t < t1_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact envelope, by brute force over all samples.
    fn brute(samples: &[(f64, f32)], t0: f64, t1: f64, columns: usize) -> Vec<Column> {
        let width = (t1 - t0) / columns as f64;
        let mut cells: Vec<Option<(f32, f32)>> = vec![None; columns];
        for &(t, v) in samples.iter().filter(|(t, _)| *t >= t0 && *t < t1) {
            let i = (((t - t0) / width) as usize).min(columns - 1);
            cells[i] = Some(cells[i].map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
        cells
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|(min, max)| Column { t: t0 + i as f64 * width, min, max }))
            .collect()
    }

    fn wave(n: usize, rate_hz: f64) -> Vec<(f64, f32)> {
        (0..n).map(|i| (i as f64 / rate_hz, ((i * 7919) % 1000) as f32 - 500.0 + (i / 5000) as f32)).collect()
    }

    #[test]
    fn raw_envelope_is_exact() {
        let samples = wave(10_000, 1000.0);
        let mut series = Series::default();
        for &(t, v) in &samples {
            series.push(t, v);
        }
        // 10 s over 20 000 columns: finer than a sample, so raw samples are used.
        assert_eq!(series.envelope(0.0, 10.0, 20_000), brute(&samples, 0.0, 10.0, 20_000));
    }

    #[test]
    fn block_envelope_contains_the_exact_one_and_is_cheap() {
        let samples = wave(1_000_000, 1000.0);
        let mut series = Series::default();
        for &(t, v) in &samples {
            series.push(t, v);
        }
        let (t0, t1, columns) = (0.0, 1000.0, 100);
        let exact = brute(&samples, t0, t1, columns);
        let fast = series.envelope(t0, t1, columns);
        assert_eq!(fast.len(), exact.len());
        // Blocks never cross a column boundary by more than one block, so the overall extremes match and each
        // column's extremes are within the exact ones of it and its neighbour.
        let (lo, hi) = exact.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(c.min), hi.max(c.max)));
        let (flo, fhi) = fast.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(c.min), hi.max(c.max)));
        assert_eq!((lo, hi), (flo, fhi));
        for (i, column) in fast.iter().enumerate() {
            let near = &exact[i.saturating_sub(1)..(i + 2).min(exact.len())];
            let (nlo, nhi) = near.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(c.min), hi.max(c.max)));
            assert!(column.min >= nlo && column.max <= nhi, "column {i}: {column:?} outside {nlo}..{nhi}");
        }
        // 10 000 samples per column: a coarse level was used (16 384-sample blocks are too wide, 1 024 fit).
        assert_eq!(series.choose_level(t0, (t1 - t0) / columns as f64), Some(1));
    }

    #[test]
    fn the_newest_samples_appear_at_every_zoom() {
        let mut series = Series::default();
        for i in 0..100_000 {
            series.push(i as f64 * 1e-3, 0.0);
        }
        series.push(100.0, 42.0); // not yet in any closed block
        for columns in [10, 1000, 100_000] {
            let env = series.envelope(0.0, 100.001, columns);
            assert_eq!(env.last().map(|c| c.max), Some(42.0), "{columns} columns");
        }
    }

    #[test]
    fn memory_is_bounded_and_old_history_stays_coarse() {
        let limits = SeriesLimits { raw_samples: 1000, blocks_per_level: 100 };
        let mut series = Series::new(limits);
        for i in 0..2_000_000u64 {
            series.push(i as f64 * 1e-3, (i % 977) as f32);
        }
        assert_eq!(series.raw_len(), 1000);
        assert!(series.levels.iter().all(|l| l.len() <= 100));
        assert_eq!(series.samples_total(), 2_000_000);
        // Level 3 (262 144-sample blocks) still reaches back to the start.
        let (oldest, newest) = series.time_range().unwrap();
        assert_eq!(oldest, 0.0);
        assert!((newest - 1999.999).abs() < 1e-6);
        let env = series.envelope(0.0, 2000.0, 4);
        assert_eq!(env.len(), 4);
        assert_eq!(env[0].min, 0.0);
        assert_eq!(env[0].max, 976.0);
        // Raw read-outs exist only where raw samples are kept.
        assert!(series.nearest(1.0).is_none());
        assert_eq!(series.nearest(1999.9993).map(|(t, _)| t), Some(1999.999));
    }

    #[test]
    fn out_of_order_and_nan_samples_keep_the_invariants() {
        let mut series = Series::default();
        series.push(1.0, 1.0);
        series.push(0.5, 2.0);
        series.push(2.0, f32::NAN);
        assert_eq!(series.samples_total(), 2);
        assert_eq!(series.raw_range(0.0, 10.0).collect::<Vec<_>>(), vec![(1.0, 1.0), (1.0, 2.0)]);
        assert!(series.envelope(1.0, 1.0, 10).is_empty());
        assert!(series.envelope(0.0, 2.0, 0).is_empty());
    }

    #[test]
    fn batches_equal_single_pushes() {
        let limits = SeriesLimits { raw_samples: 3000, blocks_per_level: 50 };
        let (mut a, mut b) = (Series::new(limits), Series::new(limits));
        let mut t0 = 3.0;
        // Batch sizes that straddle block boundaries and, once, overflow the raw ring on their own.
        for (k, len) in [1usize, 63, 64, 65, 160, 1000, 4000, 7, 160].into_iter().cycle().take(200).enumerate() {
            let values: Vec<f32> = (0..len).map(|i| ((k * 131 + i) as f32).sin()).collect();
            a.push_batch(t0, 1e-4, &values);
            for (i, &v) in values.iter().enumerate() {
                b.push(t0 + i as f64 * 1e-4, v);
            }
            t0 += len as f64 * 1e-4;
        }
        assert_eq!(a.samples_total(), b.samples_total());
        assert_eq!(a.raw_range(0.0, 1e9).collect::<Vec<_>>(), b.raw_range(0.0, 1e9).collect::<Vec<_>>());
        assert_eq!(a.levels, b.levels);
        assert_eq!(a.time_range(), b.time_range());
        for columns in [1, 37, 2000, 100_000] {
            assert_eq!(a.envelope(3.0, t0, columns), b.envelope(3.0, t0, columns), "{columns} columns");
        }
    }
}
