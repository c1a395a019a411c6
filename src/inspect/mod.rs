//! The payload inspector's model: a payload decoded into a tree of fields, each with the bytes (and bits) it
//! came from, its raw and physical value, unit and warnings, plus what the payload costs on the air.
//!
//! Decoders (Cayenne LPP, CBOR/SenML, JSON, CoAP, MQTT, Benchtop frames, any postcard message from its schema,
//! user layouts) all produce [`Decoded`]; the window and `benchtop inspect` only ever read that. Pure logic: no I/O, no UI.

pub mod cbor;
pub mod coap;
pub mod cost;
pub mod field;
pub mod formats;
pub mod frame;
pub mod input;
pub mod json;
pub mod layout;
pub mod lpp;
pub mod mqtt;
pub mod postcard;

pub use field::{Decoded, Field, InspectError};
pub use formats::{FORMAT_NAMES, decode_format};
