//! `benchtop coap get|put|post|delete|discover`: talk to a CoAP server from the command line.
//!
//! `get` prints the response (code, Content-Format, payload as text or hex, and the values Benchtop reads from
//! it); with `--observe` it prints every notification for `--duration`, then deregisters. `put` and `post`
//! send `--payload` (text, or `--hex`) with a Content-Format, block-wise when it is large. `discover` lists
//! `/.well-known/core`. An error code (4.xx, 5.xx) exits 1 with the server's diagnostic; a server that does not
//! answer exits 1 with what was tried.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::coap::decode::{payload_decoding, read};
use crate::coap::discovery::discover;
use crate::coap::message::{content_format_number, content_format_text};
use crate::coap::{CoapClient, CoapUrl, Method, Observation, ObserveEvent, Response};
use crate::mqtt::decode::Reading;

/// Options of `benchtop coap`.
#[derive(Debug, Args)]
pub struct CoapArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CoapCommand,
}

/// `benchtop coap` subcommands.
#[derive(Debug, Subcommand)]
pub enum CoapCommand {
    /// GET a resource (whole, block-wise when large), or observe it.
    Get {
        /// coap://HOST[:PORT]/PATH[?query] (see docs/coap.md for Benchtop's own query options).
        uri: String,
        /// Observe: print every notification until --duration has passed, then deregister.
        #[arg(long)]
        observe: bool,
        /// How long to observe, e.g. 10s.
        #[arg(long, default_value = "10s")]
        duration: humantime::Duration,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// PUT a payload to a resource.
    Put(WriteArgs),
    /// POST a payload to a resource.
    Post(WriteArgs),
    /// DELETE a resource.
    Delete {
        /// coap://HOST[:PORT]/PATH.
        uri: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the server's resources (/.well-known/core).
    Discover {
        /// coap://HOST[:PORT] (any path is ignored).
        uri: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Options of `benchtop coap put` and `post`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// coap://HOST[:PORT]/PATH.
    pub uri: String,
    /// The payload: text as given, or hex with --hex.
    #[arg(long)]
    pub payload: String,
    /// The payload is hex (`01 a2 ff` or `01a2ff`).
    #[arg(long)]
    pub hex: bool,
    /// Content-Format: text, json, cbor, senml+json, senml+cbor, link, octets or a number.
    #[arg(long, default_value = "text")]
    pub content_format: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `benchtop coap`.
pub async fn run(args: CoapArgs) -> anyhow::Result<()> {
    match args.command {
        CoapCommand::Get { uri, observe, duration, json } => {
            let url = parse(&uri)?;
            let client = CoapClient::connect(&url).await?;
            if observe {
                observe_for(&client, &url, duration.into(), json).await
            } else {
                let response = client.get(&url).await?;
                print_response(&url, &response, json)?;
                succeeded(&response)
            }
        }
        CoapCommand::Put(write) => write_to(Method::Put, write).await,
        CoapCommand::Post(write) => write_to(Method::Post, write).await,
        CoapCommand::Delete { uri, json } => {
            let url = parse(&uri)?;
            let client = CoapClient::connect(&url).await?;
            let response = client.request(Method::Delete, &url, &[], None).await?;
            print_response(&url, &response, json)?;
            succeeded(&response)
        }
        CoapCommand::Discover { uri, json } => {
            let url = parse(&uri)?;
            let client = CoapClient::connect(&url).await?;
            let (resources, problems) = discover(&client, &url).await?;
            for problem in &problems {
                eprintln!("warning: {problem}");
            }
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&resources)?)?;
            } else if resources.is_empty() {
                writeln!(out, "{} lists no resources", url.address())?;
            } else {
                let width = resources.iter().map(|r| r.path.len()).filter(|len| *len <= 32).max().unwrap_or(0);
                for resource in &resources {
                    writeln!(out, "{:width$}  {}", resource.path, resource.describe())?;
                }
            }
            Ok(())
        }
    }
}

fn parse(uri: &str) -> anyhow::Result<CoapUrl> {
    Ok(CoapUrl::parse(uri)?)
}

async fn write_to(method: Method, args: WriteArgs) -> anyhow::Result<()> {
    let url = parse(&args.uri)?;
    let content_format = content_format_number(&args.content_format).map_err(anyhow::Error::msg)?;
    let payload = if args.hex {
        crate::inspect::input::parse_hex(&args.payload)
            .map_err(|e| anyhow::anyhow!("--payload: {e}; nothing was sent"))?
    } else {
        args.payload.into_bytes()
    };
    let client = CoapClient::connect(&url).await?;
    let response = client
        .request(method, &url, &payload, Some(content_format))
        .await
        .with_context(|| format!("{} {} ({} bytes) failed", method.name(), url, payload.len()))?;
    print_response(&url, &response, args.json)?;
    succeeded(&response)
}

fn succeeded(response: &Response) -> anyhow::Result<()> {
    if response.is_success() {
        Ok(())
    } else {
        let detail = crate::inspect::coap::printable_text(&response.payload)
            .filter(|t| !t.trim().is_empty())
            .map(|t| format!(": {}", t.trim()))
            .unwrap_or_default();
        anyhow::bail!("the server answered {}{detail}", response.code_text())
    }
}

fn response_json(url: &CoapUrl, response: &Response) -> serde_json::Value {
    let values =
        match payload_decoding(url).map(|d| read(&d, &url.resource(), response.content_format, &response.payload)) {
            Ok(Reading::Values(values)) => values,
            _ => Vec::new(),
        };
    serde_json::json!({
        "code": response.code_text(),
        "content_format": response.content_format,
        "observe": response.observe,
        "max_age_s": response.max_age_s,
        "location": response.location,
        "payload": response.payload_text(),
        "payload_bytes": response.payload.len(),
        "values": values.iter().map(|(name, value)| serde_json::json!({"resource": name, "value": value})).collect::<Vec<_>>(),
    })
}

fn print_response(url: &CoapUrl, response: &Response, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", response_json(url, response))?;
        return Ok(());
    }
    let format = response.content_format.map(content_format_text).unwrap_or_else(|| "no Content-Format".into());
    let observe = response.observe.map(|n| format!(", Observe {n}")).unwrap_or_default();
    writeln!(out, "{} · {format} · {} bytes{observe}", response.code_text(), response.payload.len())?;
    if !response.location.is_empty() {
        writeln!(out, "Location: /{}", response.location.join("/"))?;
    }
    if !response.payload.is_empty() {
        writeln!(out, "{}", response.payload_text())?;
    }
    if let Ok(decoding) = payload_decoding(url)
        && response.is_success()
        && let Reading::Values(values) = read(&decoding, &url.resource(), response.content_format, &response.payload)
        && !matches!(response.content_format, None | Some(0))
    {
        for (name, value) in values {
            writeln!(out, "  {name} = {value}")?;
        }
    }
    Ok(())
}

async fn observe_for(client: &CoapClient, url: &CoapUrl, duration: Duration, json: bool) -> anyhow::Result<()> {
    let mut observation = Observation::register(client, url).await?;
    if !observation.observable() {
        eprintln!("{} is not observable: the server answered once, without Observe", url.resource());
    }
    let deadline = tokio::time::Instant::now() + duration;
    let mut notifications = 0u64;
    while let Ok(event) = tokio::time::timeout_at(deadline, observation.next()).await {
        match event {
            ObserveEvent::Notification { response, lost_before, .. } => {
                notifications += 1;
                if lost_before > 0 {
                    eprintln!("{lost_before} notification(s) lost before this one (the Observe numbers skip)");
                }
                print_response(url, &response, json)?;
            }
            ObserveEvent::Reregistered(text) | ObserveEvent::Problem(text) => eprintln!("{text}"),
        }
    }
    let deregistered = observation.cancel(Duration::from_secs(3)).await;
    let stats = client.stats().snapshot();
    eprintln!(
        "{notifications} notifications in {:.1} s; {} lost, {} retransmissions, {} re-registrations{}",
        duration.as_secs_f64(),
        stats.lost_notifications,
        stats.retransmissions,
        stats.reregistrations,
        match deregistered {
            Ok(()) => "; deregistered".to_string(),
            Err(error) => format!("; deregistration not confirmed ({error})"),
        }
    );
    Ok(())
}
