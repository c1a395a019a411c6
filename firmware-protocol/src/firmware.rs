//! The device side: recognise a request in a frame, and write responses and topic messages as frames.
//!
//! This is what a firmware's main loop needs and nothing more: no executor, no allocation, two buffers of
//! [`MAX_PAYLOAD_LEN`] and [`MAX_ENCODED_FRAME_LEN`] bytes. It follows postcard-rpc's header format and
//! keys, so hosts built on postcard-rpc's `HostClient` talk to it unchanged; it does not use postcard-rpc's
//! async `Server`, which needs an async executor and its own transports that a bare-metal super loop on a
//! 16 KB part cannot afford.

use postcard_rpc::header::{VarHeader, VarKey, VarKeyKind, VarSeq};
use postcard_rpc::{Endpoint, Key, Topic, TopicDirection};
use serde::{Deserialize, Serialize};

use crate::framing::{FrameError, MAX_ENCODED_FRAME_LEN, MAX_PAYLOAD_LEN, encode_frame};
use crate::icd::{
    ENDPOINT_LIST, ERROR_KEY, GetAllSchemaDataTopic, MIN_KEY_LEN, SchemaTotals, TOPICS_IN_LIST, TOPICS_OUT_LIST,
    WireError,
};

/// A request received from the host.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// postcard-rpc header: key and sequence number.
    pub header: VarHeader,
    /// The postcard-encoded request body.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Splits a frame's payload into header and body; `None` if the header is malformed.
    pub fn parse(payload: &'a [u8]) -> Option<Self> {
        let (header, body) = VarHeader::take_from_slice(payload)?;
        Some(Self { header, body })
    }

    /// Whether this is a request for endpoint `E` (keys of any length compare equal to their 8-byte form).
    pub fn is<E: Endpoint>(&self) -> bool {
        self.header.key == VarKey::Key8(E::REQ_KEY)
    }

    /// Decodes the body as `E`'s request.
    pub fn decode<E: Endpoint>(&self) -> Result<E::Request, postcard::Error>
    where
        E::Request: Deserialize<'a>,
    {
        postcard::from_bytes(self.body)
    }
}

/// Writes outgoing frames with the shortest collision-free key ([`MIN_KEY_LEN`]).
pub struct FrameWriter {
    payload: [u8; MAX_PAYLOAD_LEN],
    frame: [u8; MAX_ENCODED_FRAME_LEN],
    topic_seq: u32,
}

impl Default for FrameWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameWriter {
    /// A writer with its own buffers.
    pub const fn new() -> Self {
        Self { payload: [0; MAX_PAYLOAD_LEN], frame: [0; MAX_ENCODED_FRAME_LEN], topic_seq: 0 }
    }

    /// A frame answering `request` for endpoint `E`.
    pub fn response<E: Endpoint>(&mut self, request: &Request<'_>, response: &E::Response) -> Result<&[u8], FrameError>
    where
        E::Response: Serialize,
    {
        self.write(E::RESP_KEY, request.header.seq_no, response)
    }

    /// A frame publishing `message` on topic `T`, with the writer's own sequence number.
    pub fn topic<T: Topic>(&mut self, message: &T::Message) -> Result<&[u8], FrameError>
    where
        T::Message: Serialize,
    {
        self.topic_raw(T::TOPIC_KEY, message)
    }

    /// A frame publishing any serializable message under `key` (for messages whose Rust type differs between
    /// firmware and host but whose wire form is the same, such as schema data).
    pub fn topic_raw(&mut self, key: Key, message: &(impl Serialize + ?Sized)) -> Result<&[u8], FrameError> {
        let seq = VarSeq::Seq2(self.topic_seq as u16);
        self.topic_seq = self.topic_seq.wrapping_add(1);
        self.write(key, seq, message)
    }

    /// A frame telling the host its request failed at the protocol level (unknown key, undecodable body).
    pub fn wire_error(&mut self, request: &Request<'_>, error: &WireError) -> Result<&[u8], FrameError> {
        self.write(ERROR_KEY, request.header.seq_no, error)
    }

    fn write(&mut self, key: Key, seq_no: VarSeq, body: &(impl Serialize + ?Sized)) -> Result<&[u8], FrameError> {
        let mut key = VarKey::Key8(key);
        key.shrink_to(min_key_kind());
        let header = VarHeader { key, seq_no };
        let (head, rest) = header.write_to_slice(&mut self.payload).ok_or(FrameError::Serialize)?;
        let head_len = head.len();
        let body_len = postcard::to_slice(body, rest).map_err(|_| FrameError::Serialize)?.len();
        let len = encode_frame(&self.payload[..head_len + body_len], &mut self.frame)?;
        Ok(&self.frame[..len])
    }
}

/// The key kind matching [`MIN_KEY_LEN`].
pub const fn min_key_kind() -> VarKeyKind {
    match MIN_KEY_LEN {
        1 => VarKeyKind::Key1,
        2 => VarKeyKind::Key2,
        4 => VarKeyKind::Key4,
        _ => VarKeyKind::Key8,
    }
}

/// One message of the schema stream sent in answer to postcard-rpc's "get all schemas" endpoint; same wire
/// form as postcard-rpc's `SchemaData`, borrowed so firmware sends its static schema tables without copying.
#[derive(Serialize)]
pub enum SchemaMessage {
    /// A type used by an endpoint or topic.
    Type(&'static postcard_schema::schema::NamedType),
    /// An endpoint.
    Endpoint {
        /// Path.
        path: &'static str,
        /// Request key.
        request_key: Key,
        /// Response key.
        response_key: Key,
    },
    /// A topic.
    Topic {
        /// Path.
        path: &'static str,
        /// Message key.
        key: Key,
        /// Direction.
        direction: TopicDirection,
    },
}

/// Calls `send` with every schema message of this protocol in order, then returns the totals to answer
/// [`crate::GetAllSchemasEndpoint`] with. `send` returns whether the message went out; failures are counted.
pub fn for_each_schema_message(mut send: impl FnMut(SchemaMessage) -> bool) -> SchemaTotals {
    let mut totals =
        SchemaTotals { types_sent: 0, endpoints_sent: 0, topics_in_sent: 0, topics_out_sent: 0, errors: 0 };
    let count = |sent: bool, counter: &mut u32, errors: &mut u32| {
        if sent { *counter += 1 } else { *errors += 1 }
    };
    let types = ENDPOINT_LIST.types.iter().chain(TOPICS_IN_LIST.types).chain(TOPICS_OUT_LIST.types);
    for ty in types {
        let sent = send(SchemaMessage::Type(ty));
        count(sent, &mut totals.types_sent, &mut totals.errors);
    }
    for &(path, request_key, response_key) in ENDPOINT_LIST.endpoints {
        let sent = send(SchemaMessage::Endpoint { path, request_key, response_key });
        count(sent, &mut totals.endpoints_sent, &mut totals.errors);
    }
    for &(path, key) in TOPICS_IN_LIST.topics {
        let sent = send(SchemaMessage::Topic { path, key, direction: TopicDirection::ToServer });
        count(sent, &mut totals.topics_in_sent, &mut totals.errors);
    }
    for &(path, key) in TOPICS_OUT_LIST.topics {
        let sent = send(SchemaMessage::Topic { path, key, direction: TopicDirection::ToClient });
        count(sent, &mut totals.topics_out_sent, &mut totals.errors);
    }
    totals
}

/// The key schema messages are published under.
pub const SCHEMA_DATA_KEY: Key = <GetAllSchemaDataTopic as Topic>::TOPIC_KEY;
