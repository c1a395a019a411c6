//! The energy budget: power profiles (states with currents and shares of time), batteries and lifetimes,
//! LoRa airtime, what-if questions, segmentation of measured traces into profiles, and shipped presets.
//!
//! Pure arithmetic on plain data: no egui, no tokio, no files except where a function says it reads one.
//! Currents are in mA in profiles and in A in traces (as the trace store keeps them); names carry the unit.

pub mod battery;
pub mod preset;
pub mod profile;
pub mod radio;
pub mod segment;
pub mod whatif;

pub use battery::{Battery, Lifetime};
pub use preset::{PRESETS, Preset, load_preset};
pub use profile::{Profile, ProfileDocument, ProfileError, State};
pub use radio::{Airtime, LoraSettings, LowDataRate};
pub use segment::{Segment, SegmentOptions, Segmentation, segment};
pub use whatif::{Comparison, compare, with_interval, with_radio};
