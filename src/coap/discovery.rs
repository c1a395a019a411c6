//! Resource discovery: `/.well-known/core` (RFC 6690 link format) read as a list of resources to pick from,
//! each with what its attributes say (resource type, interface, Content-Format, observable, size, title).

use serde::Serialize;

use super::client::CoapClient;
use super::message::Method;
use super::url::CoapUrl;
use super::{CoapError, message};

/// The well-known path of a server's resource list.
pub const WELL_KNOWN_CORE: &str = "/.well-known/core";

/// One resource a server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// Its path (`/sensors/temp`), or the full URI when the link names another host.
    pub path: String,
    /// `rt`: resource types.
    pub resource_types: Vec<String>,
    /// `if`: interface descriptions.
    pub interfaces: Vec<String>,
    /// `ct`: Content-Formats it offers.
    pub content_formats: Vec<u16>,
    /// `obs`: it can be observed.
    pub observable: bool,
    /// `sz`: its size estimate in bytes.
    pub size_bytes: Option<u64>,
    /// `title`.
    pub title: Option<String>,
}

impl Resource {
    /// A short description for a list: `obs · rt=temperature-c · ct=0 · 2 kB`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.observable {
            parts.push("observable".to_string());
        }
        if !self.resource_types.is_empty() {
            parts.push(format!("rt={}", self.resource_types.join(" ")));
        }
        if !self.interfaces.is_empty() {
            parts.push(format!("if={}", self.interfaces.join(" ")));
        }
        if !self.content_formats.is_empty() {
            let formats: Vec<String> = self.content_formats.iter().map(|f| message::content_format_text(*f)).collect();
            parts.push(formats.join(", "));
        }
        if let Some(size) = self.size_bytes {
            parts.push(format!("{size} B"));
        }
        if let Some(title) = &self.title {
            parts.push(format!("\"{title}\""));
        }
        parts.join(" · ")
    }
}

/// Reads a link-format document. Links that cannot be read are skipped and reported in the second list.
pub fn parse_link_format(text: &str) -> (Vec<Resource>, Vec<String>) {
    let mut resources = Vec::new();
    let mut problems = Vec::new();
    for link in coap_lite::link_format::LinkFormatParser::new(text) {
        let (target, attributes) = match link {
            Ok(link) => link,
            Err(error) => {
                problems.push(format!("the resource list could not be read past a link ({error:?})"));
                break;
            }
        };
        let mut resource = Resource {
            path: target.to_string(),
            resource_types: Vec::new(),
            interfaces: Vec::new(),
            content_formats: Vec::new(),
            observable: false,
            size_bytes: None,
            title: None,
        };
        for (key, value) in attributes {
            let value = value.to_string();
            let words = || value.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            match key {
                "rt" => resource.resource_types.extend(words()),
                "if" => resource.interfaces.extend(words()),
                "ct" => {
                    for word in words() {
                        match word.parse() {
                            Ok(format) => resource.content_formats.push(format),
                            Err(_) => problems.push(format!("{target}: ct=`{word}` is not a Content-Format number")),
                        }
                    }
                }
                "obs" => resource.observable = true,
                "sz" => resource.size_bytes = value.parse().ok(),
                "title" => resource.title = Some(value),
                _ => {}
            }
        }
        resources.push(resource);
    }
    (resources, problems)
}

/// GETs `/.well-known/core` from the server of `url` and reads it.
pub async fn discover(client: &CoapClient, url: &CoapUrl) -> Result<(Vec<Resource>, Vec<String>), CoapError> {
    let well_known = url.with_path(WELL_KNOWN_CORE);
    let response = client.request(Method::Get, &well_known, &[], None).await?;
    if !response.is_success() {
        return Err(CoapError::Status { code: response.code, payload: response.payload });
    }
    if response.content_format.is_some_and(|f| f != 40) {
        return Err(CoapError::Protocol(format!(
            "{WELL_KNOWN_CORE} came as {}, not application/link-format (40)",
            message::content_format_text(response.content_format.unwrap_or_default())
        )));
    }
    let text = String::from_utf8(response.payload).map_err(|_| {
        CoapError::Protocol(format!("{WELL_KNOWN_CORE} is not UTF-8 text, so it is not a link-format list"))
    })?;
    Ok(parse_link_format(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_list_reads_with_its_attributes() {
        let text = concat!(
            "</sensors/temp>;rt=\"temperature-c sensor\";if=sensor;obs;ct=0,",
            "</large>;sz=3000;ct=\"0 50\";title=\"A big, quoted, title\",",
            "</.well-known/core>;ct=40"
        );
        let (resources, problems) = parse_link_format(text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(resources.len(), 3);
        assert_eq!(resources[0].path, "/sensors/temp");
        assert_eq!(resources[0].resource_types, ["temperature-c", "sensor"]);
        assert!(resources[0].observable);
        assert_eq!(resources[1].content_formats, [0, 50]);
        assert_eq!(resources[1].size_bytes, Some(3000));
        assert_eq!(resources[1].title.as_deref(), Some("A big, quoted, title"));
        assert!(!resources[2].observable);
        assert!(resources[0].describe().starts_with("observable · rt=temperature-c sensor · if=sensor"));
    }

    #[test]
    fn a_broken_list_keeps_what_it_could_read() {
        let (resources, problems) = parse_link_format("</a>;obs,garbage</b>");
        assert_eq!(resources.len(), 1);
        assert_eq!(problems.len(), 1);
        let (_, problems) = parse_link_format("</a>;ct=json");
        assert!(problems[0].contains("not a Content-Format number"));
    }
}
