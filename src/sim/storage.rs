//! The simulated board's persistent configuration storage: two slots written alternately (A/B).
//!
//! A commit writes the slot not in use and only then counts as done; a reset during that write leaves a torn
//! slot that the next boot ignores, so the board comes back with its previous configuration. This is the
//! scheme real firmware uses on flash, and what lets the host promise "the device keeps its previous
//! configuration until a commit completes". Storage outlives [`super::SimBoard`] resets.

use firmware_protocol::Config;

#[derive(Clone)]
struct Slot {
    generation: u32,
    config: Config,
    /// False when a reset interrupted the write: the slot's checksum would not match on a real part.
    intact: bool,
}

/// Two configuration slots.
#[derive(Clone, Default)]
pub struct SimStorage {
    slots: [Option<Slot>; 2],
}

impl SimStorage {
    /// The configuration in force: the intact slot with the highest generation, else the factory default.
    pub fn load(&self) -> (u32, Config) {
        self.slots
            .iter()
            .flatten()
            .filter(|slot| slot.intact)
            .max_by_key(|slot| slot.generation)
            .map(|slot| (slot.generation, slot.config.clone()))
            .unwrap_or_else(|| (0, Config::default()))
    }

    /// Writes `config` as `generation` into the slot not holding the configuration in force. With `torn`,
    /// the write is interrupted half way, as by a reset.
    pub fn write(&mut self, generation: u32, config: &Config, torn: bool) {
        let (current, _) = self.load();
        let target = self
            .slots
            .iter()
            .position(|slot| slot.as_ref().is_none_or(|s| !s.intact || s.generation != current))
            .unwrap_or(0);
        self.slots[target] = Some(Slot { generation, config: config.clone(), intact: !torn });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_write_keeps_the_previous_configuration() {
        let mut storage = SimStorage::default();
        assert_eq!(storage.load().0, 0);
        let mut config = Config::default();
        config.reporting.interval_secs = 120;
        storage.write(1, &config, false);
        assert_eq!(storage.load().1.reporting.interval_secs, 120);

        config.reporting.interval_secs = 5;
        storage.write(2, &config, true);
        let (generation, loaded) = storage.load();
        assert_eq!((generation, loaded.reporting.interval_secs), (1, 120));

        // The next good write goes over the torn slot and wins.
        storage.write(2, &config, false);
        assert_eq!(storage.load().1.reporting.interval_secs, 5);
        config.reporting.interval_secs = 7;
        storage.write(3, &config, false);
        assert_eq!(storage.load(), (3, config.clone()));
        // Generation 2 is still there as the fallback slot.
        storage.write(4, &Config::default(), true);
        assert_eq!(storage.load().0, 3);
    }
}
