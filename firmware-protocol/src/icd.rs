//! The interface control document: every endpoint and topic of the Benchtop protocol, as postcard-rpc tables.
//!
//! Each key is a hash of the path and the message's schema, so a host and a device built from different
//! versions of a message see "unknown endpoint" rather than garbage. The tables include postcard-rpc's
//! standard endpoints (ping, schemas) and topics, so any postcard-rpc host tool can talk to a Benchtop board.

use postcard_rpc::{Key, TopicDirection, endpoints, topics};

use crate::config::{CommitReceipt, CommitRequest, ConfigItem, ConfigView, IdentifyRequest, StreamingConfig};
use crate::device::DeviceInfo;
use crate::error::DeviceError;
use crate::telemetry::{CurrentBatch, LogLine, SampleBatch};

pub use postcard_rpc::standard_icd::{
    ERROR_KEY, ERROR_PATH, GetAllSchemaDataTopic, GetAllSchemasEndpoint, PingEndpoint, SchemaTotals, WireError,
};

/// The result of a request that answers nothing but success or a [`DeviceError`].
pub type Ack = Result<(), DeviceError>;
/// The result of reading the staged configuration's check values.
pub type CheckResult = Result<ConfigView, DeviceError>;
/// The result of a commit.
pub type CommitResult = Result<CommitReceipt, DeviceError>;

endpoints! {
    list = ENDPOINT_LIST;
    | EndpointTy            | RequestTy       | ResponseTy     | Path                      |
    | ----------            | ---------       | ----------     | ----                      |
    | DeviceInfoEndpoint    | ()              | DeviceInfo     | "benchtop/info"           |
    | ConfigReadEndpoint    | ()              | ConfigView     | "benchtop/config/read"    |
    | ConfigStageEndpoint   | ConfigItem      | Ack            | "benchtop/config/stage"   |
    | ConfigCheckEndpoint   | ()              | CheckResult    | "benchtop/config/check"   |
    | ConfigCommitEndpoint  | CommitRequest   | CommitResult   | "benchtop/config/commit"  |
    | ConfigDiscardEndpoint | ()              | Ack            | "benchtop/config/discard" |
    | StreamingSetEndpoint  | StreamingConfig | Ack            | "benchtop/streaming/set"  |
    | IdentifyEndpoint      | IdentifyRequest | Ack            | "benchtop/identify"       |
    | RebootEndpoint        | ()              | Ack            | "benchtop/reboot"         |
}

topics! {
    list = TOPICS_IN_LIST;
    direction = TopicDirection::ToServer;
    | TopicTy | MessageTy | Path |
    | ------- | --------- | ---- |
}

topics! {
    list = TOPICS_OUT_LIST;
    direction = TopicDirection::ToClient;
    | TopicTy          | MessageTy    | Path                          |
    | -------          | ---------    | ----                          |
    | SampleBatchTopic | SampleBatch  | "benchtop/telemetry/samples"  |
    | CurrentBatchTopic | CurrentBatch | "benchtop/telemetry/current" |
    | LogTopic         | LogLine      | "benchtop/log"                |
}

/// Bytes of key a device needs on the wire so that no two of this protocol's keys collide (1, 2, 4 or 8).
pub const MIN_KEY_LEN: usize = {
    const fn request_keys() -> [Key; ENDPOINT_LIST.endpoints.len()] {
        let mut keys = [ERROR_KEY; ENDPOINT_LIST.endpoints.len()];
        let mut i = 0;
        while i < keys.len() {
            keys[i] = ENDPOINT_LIST.endpoints[i].1;
            i += 1;
        }
        keys
    }
    const fn response_keys() -> [Key; ENDPOINT_LIST.endpoints.len()] {
        let mut keys = [ERROR_KEY; ENDPOINT_LIST.endpoints.len()];
        let mut i = 0;
        while i < keys.len() {
            keys[i] = ENDPOINT_LIST.endpoints[i].2;
            i += 1;
        }
        keys
    }
    const fn topic_keys() -> [Key; TOPICS_OUT_LIST.topics.len()] {
        let mut keys = [ERROR_KEY; TOPICS_OUT_LIST.topics.len()];
        let mut i = 0;
        while i < keys.len() {
            keys[i] = TOPICS_OUT_LIST.topics[i].1;
            i += 1;
        }
        keys
    }
    const REQUESTS: [Key; ENDPOINT_LIST.endpoints.len()] = request_keys();
    const RESPONSES: [Key; ENDPOINT_LIST.endpoints.len()] = response_keys();
    const TOPICS: [Key; TOPICS_OUT_LIST.topics.len()] = topic_keys();
    // Everything a device receives, and separately everything it sends, must be told apart.
    let incoming = postcard_rpc::server::min_key_needed(&[&REQUESTS]);
    let outgoing = postcard_rpc::server::min_key_needed(&[&RESPONSES, &TOPICS, &[ERROR_KEY]]);
    if incoming > outgoing { incoming } else { outgoing }
};
