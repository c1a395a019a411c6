//! Provisioning one device: identify → reserve → stage → check → commit → read back → record.
//!
//! An [`Attempt`] carries one device through the steps; the bench window calls them one at a time, a line
//! station ([`provision_device`]) calls them in a row. The host computes every check value itself and compares
//! it with what the device shows before it commits, and again after it reads the committed configuration
//! back, so a key is never read back from the device. Any failure before the commit discards the staged
//! configuration, so the device runs on as before; the ledger row of a failed attempt is burned, never
//! reused. A commit whose answer is lost (a reset half way, a corrupted frame) is settled by reading the
//! configuration in force: either it is the staged one (committed after all) or the previous one.
//!
//! The ledger is a blocking client, so this module is synchronous: device requests run on the I/O runtime
//! through its [`Handle`], ledger calls on the caller's thread.

use std::fmt;
use std::time::{Duration, Instant};

use firmware_protocol::config::{
    AdaptiveReporting, CommitReceipt, ConfigItem, ConfigView, LoraWanConfig, MqttConfig, ReportingConfig,
};
use firmware_protocol::device::{Capabilities, DeviceInfo};
use firmware_protocol::kcv::{Kcv, SecretField, key_check_value};
use serde::Serialize;
use tokio::runtime::Handle;

use super::keys::{AppKey, Eui64, KeyError, Password};
use super::ledger::{DevEuiSource, Ledger, LedgerError, MqttCredentials, Reservation, ReserveRequest};
use super::template::{MqttTemplate, Template};
use crate::io::session::{Session, SessionError};

/// The steps of an attempt, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Read the device's identity and configuration.
    Identify,
    /// Reserve its DevEUI and keys in the ledger.
    Reserve,
    /// Stage the new settings on the device.
    Stage,
    /// Compare the staged check values with ours.
    Check,
    /// Commit on the device.
    Commit,
    /// Read the committed configuration back and compare again.
    ReadBack,
    /// Record the commit in the ledger.
    Record,
}

impl Step {
    /// Every step in order.
    pub const ALL: [Step; 7] =
        [Step::Identify, Step::Reserve, Step::Stage, Step::Check, Step::Commit, Step::ReadBack, Step::Record];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Step::Identify => "identify",
            Step::Reserve => "reserve",
            Step::Stage => "stage",
            Step::Check => "check",
            Step::Commit => "commit",
            Step::ReadBack => "read back",
            Step::Record => "record",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why an attempt stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The step that failed.
    pub step: Step,
    /// What happened, in a sentence (never a secret).
    pub reason: String,
    /// What the device runs now, in a sentence.
    pub device_state: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {} ({})", self.step, self.reason, self.device_state)
    }
}

/// One compared value: what Benchtop computed and what the device shows (check values for secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The setting.
    pub field: &'static str,
    /// What it should be.
    pub expected: String,
    /// What the device shows.
    pub device: String,
}

impl Comparison {
    /// Whether both agree.
    pub fn matches(&self) -> bool {
        self.expected == self.device
    }
}

/// Everything to write into one device, secrets included.
#[derive(Debug, Clone)]
pub struct DevicePlan {
    /// DevEUI.
    pub dev_eui: Eui64,
    /// JoinEUI.
    pub join_eui: Eui64,
    /// AppKey.
    pub app_key: AppKey,
    /// Fixed reporting interval.
    pub reporting: ReportingConfig,
    /// Adaptive reporting, if it is to be written.
    pub adaptive: Option<AdaptiveReporting>,
    /// MQTT client id, user and password, if they are to be written.
    pub mqtt: Option<(String, String, Password)>,
}

impl DevicePlan {
    /// The groups to stage, in order.
    pub fn items(&self) -> Result<Vec<ConfigItem>, String> {
        let mut items = vec![
            ConfigItem::LoraWan(LoraWanConfig {
                dev_eui: self.dev_eui.0,
                join_eui: self.join_eui.0,
                app_key: *self.app_key.expose(),
            }),
            ConfigItem::Reporting(self.reporting),
        ];
        if let Some(adaptive) = self.adaptive {
            items.push(ConfigItem::Adaptive(adaptive));
        }
        if let Some((client_id, user, password)) = &self.mqtt {
            let field = |text: &str, name: &str| {
                heapless::String::try_from(text).map_err(|_| format!("the MQTT {name} is longer than 64 bytes"))
            };
            items.push(ConfigItem::Mqtt(MqttConfig {
                client_id: field(client_id, "client id")?,
                user: field(user, "user")?,
                password: field(password.expose(), "password")?,
            }));
        }
        Ok(items)
    }

    /// Compares a configuration the device shows with this plan, check values computed here for `device_id`.
    pub fn compare(&self, device_id: u64, view: &ConfigView) -> Vec<Comparison> {
        let kcv = |k: Kcv| k.to_string();
        let mut out = vec![
            Comparison {
                field: "DevEUI",
                expected: self.dev_eui.to_string(),
                device: Eui64(view.lorawan.dev_eui).to_string(),
            },
            Comparison {
                field: "JoinEUI",
                expected: self.join_eui.to_string(),
                device: Eui64(view.lorawan.join_eui).to_string(),
            },
            Comparison {
                field: "AppKey check value",
                expected: kcv(key_check_value(device_id, SecretField::AppKey, self.app_key.expose())),
                device: kcv(view.lorawan.app_key_kcv),
            },
            Comparison {
                field: "interval",
                expected: format!("{} s", self.reporting.interval_secs),
                device: format!("{} s", view.reporting.interval_secs),
            },
        ];
        if let Some(adaptive) = &self.adaptive {
            out.push(Comparison {
                field: "adaptive reporting",
                expected: describe_adaptive(adaptive),
                device: describe_adaptive(&view.adaptive),
            });
        }
        if let Some((client_id, user, password)) = &self.mqtt {
            out.push(Comparison {
                field: "MQTT client id",
                expected: client_id.clone(),
                device: view.mqtt.client_id.to_string(),
            });
            out.push(Comparison { field: "MQTT user", expected: user.clone(), device: view.mqtt.user.to_string() });
            out.push(Comparison {
                field: "MQTT password check value",
                expected: kcv(key_check_value(device_id, SecretField::MqttPassword, password.expose().as_bytes())),
                device: kcv(view.mqtt.password_kcv),
            });
        }
        out
    }
}

/// Adaptive settings in one line.
pub fn describe_adaptive(a: &AdaptiveReporting) -> String {
    format!(
        "{} base {} s, {}..{} s, Δ {:.3}, low battery ×{:.1}",
        if a.enabled { "on" } else { "off" },
        a.base_interval_secs,
        a.min_interval_secs,
        a.max_interval_secs,
        f64::from(a.change_threshold_milli) / 1000.0,
        f64::from(a.low_battery_stretch_percent) / 100.0
    )
}

/// One device on its way through the steps.
pub struct Attempt {
    /// What the device said about itself.
    pub info: DeviceInfo,
    /// Its configuration before the attempt.
    pub previous: ConfigView,
    /// The ledger's reservation, once made.
    pub reservation: Option<Reservation>,
    /// What is being written, once reserved.
    pub plan: Option<DevicePlan>,
    /// The staged configuration as the device showed it at the check.
    pub staged: Option<ConfigView>,
    /// The device's receipt of the commit.
    pub receipt: Option<CommitReceipt>,
    /// The comparisons of the last check or read-back.
    pub comparisons: Vec<Comparison>,
    /// Whether something is staged on the device that a failure must discard.
    staged_on_device: bool,
}

/// The result of an earlier step, or a failure saying the steps ran out of order.
fn in_order<T>(value: Option<T>, step: Step, after: Step) -> Result<T, Failure> {
    value.ok_or_else(|| Failure {
        step,
        reason: format!("{step} comes after {after}; run the steps in order"),
        device_state: "nothing more was written to the device".into(),
    })
}

/// Runs a device request on the I/O runtime.
fn on_device<T>(rt: &Handle, future: impl Future<Output = Result<T, SessionError>>) -> Result<T, SessionError> {
    rt.block_on(future)
}

impl Attempt {
    /// Reads the device's identity and configuration; refuses a device without the configuration lifecycle.
    pub fn identify(rt: &Handle, session: &Session) -> Result<Attempt, Failure> {
        let info = session.info().clone();
        let fail = |reason: String| Failure {
            step: Step::Identify,
            reason,
            device_state: "nothing was written to the device".into(),
        };
        if !info.capabilities.contains(Capabilities::CONFIG) {
            return Err(fail("the device does not take configuration (no config capability)".into()));
        }
        let previous = on_device(rt, session.read_config()).map_err(|e| fail(e.to_string()))?;
        Ok(Attempt {
            info,
            previous,
            reservation: None,
            plan: None,
            staged: None,
            receipt: None,
            comparisons: Vec::new(),
            staged_on_device: false,
        })
    }

    /// The device's 64-bit id.
    pub fn device_id(&self) -> u64 {
        self.info.device_id
    }

    fn unchanged(&self) -> String {
        format!("the device runs its previous configuration, generation {}", self.previous.generation)
    }

    /// Reserves the DevEUI and keys in the ledger and fixes the plan.
    pub fn reserve(
        &mut self,
        ledger: &mut Ledger,
        request: ReserveRequest,
        plan: impl FnOnce(&Reservation, AppKey, Option<MqttCredentials>) -> DevicePlan,
    ) -> Result<(), Failure> {
        let app_key = request.app_key.clone();
        let mqtt = request.mqtt.clone();
        let reservation = ledger.reserve(&request).map_err(|e| Failure {
            step: Step::Reserve,
            reason: e.to_string(),
            device_state: "nothing was written to the device".into(),
        })?;
        self.plan = Some(plan(&reservation, app_key, mqtt));
        self.reservation = Some(reservation);
        Ok(())
    }

    /// Stages every group of the plan.
    pub fn stage(&mut self, rt: &Handle, session: &Session) -> Result<(), Failure> {
        let plan = in_order(self.plan.as_ref(), Step::Stage, Step::Reserve)?;
        let items =
            plan.items().map_err(|reason| Failure { step: Step::Stage, reason, device_state: self.unchanged() })?;
        self.staged_on_device = true;
        for item in &items {
            on_device(rt, session.stage(item)).map_err(|e| Failure {
                step: Step::Stage,
                reason: e.to_string(),
                device_state: self.unchanged(),
            })?;
        }
        Ok(())
    }

    /// Reads the staged check values and compares them with ours.
    pub fn check(&mut self, rt: &Handle, session: &Session) -> Result<(), Failure> {
        let unchanged = self.unchanged();
        let fail = |reason: String| Failure { step: Step::Check, reason, device_state: unchanged.clone() };
        let view = on_device(rt, session.check()).map_err(|e| fail(e.to_string()))?;
        let plan = in_order(self.plan.as_ref(), Step::Check, Step::Reserve)?;
        self.comparisons = plan.compare(self.info.device_id, &view);
        if let Some(wrong) = self.comparisons.iter().find(|c| !c.matches()) {
            return Err(fail(format!(
                "the staged {} is {} where {} was written",
                wrong.field, wrong.device, wrong.expected
            )));
        }
        self.staged = Some(view);
        Ok(())
    }

    /// Commits the checked configuration. A lost answer is settled by reading what is in force.
    pub fn commit(&mut self, rt: &Handle, session: &Session) -> Result<(), Failure> {
        let staged = in_order(self.staged.clone(), Step::Commit, Step::Check)?;
        match on_device(rt, session.commit(staged.digest)) {
            Ok(receipt) => {
                self.staged_on_device = false;
                self.receipt = Some(receipt);
                Ok(())
            }
            Err(error) => {
                // Whatever happened, find out what the device runs now.
                match on_device(rt, session.read_config()) {
                    Ok(view) if view.digest == staged.digest => {
                        self.staged_on_device = false;
                        self.receipt = Some(CommitReceipt { generation: view.generation, digest: view.digest });
                        Ok(())
                    }
                    Ok(view) if view.digest == self.previous.digest => Err(Failure {
                        step: Step::Commit,
                        reason: format!("the commit did not complete ({error})"),
                        device_state: format!(
                            "the device kept its previous configuration, generation {}",
                            view.generation
                        ),
                    }),
                    Ok(view) => Err(Failure {
                        step: Step::Commit,
                        reason: format!("the commit did not complete ({error})"),
                        device_state: format!(
                            "the device runs a configuration that is neither the previous nor the new one \
                             (generation {}, digest {}); provision it again",
                            view.generation, view.digest
                        ),
                    }),
                    Err(read) => Err(Failure {
                        step: Step::Commit,
                        reason: format!("the commit did not complete ({error}) and the device did not answer ({read})"),
                        device_state: "unknown: reconnect the device and provision it again".into(),
                    }),
                }
            }
        }
    }

    /// Reads the committed configuration back and compares it with the plan and the checked digest.
    pub fn read_back(&mut self, rt: &Handle, session: &Session) -> Result<(), Failure> {
        let committed = "the device committed the new configuration but it did not verify; provision it again";
        let fail = |reason: String| Failure { step: Step::ReadBack, reason, device_state: committed.into() };
        let view = on_device(rt, session.read_config()).map_err(|e| fail(e.to_string()))?;
        let plan = in_order(self.plan.as_ref(), Step::ReadBack, Step::Reserve)?;
        let staged = in_order(self.staged.as_ref(), Step::ReadBack, Step::Check)?;
        let receipt = in_order(self.receipt, Step::ReadBack, Step::Commit)?;
        self.comparisons = plan.compare(self.info.device_id, &view);
        if view.digest != staged.digest || view.generation != receipt.generation {
            return Err(fail(format!(
                "the device runs digest {} generation {}, the commit named digest {} generation {}",
                view.digest, view.generation, staged.digest, receipt.generation
            )));
        }
        if let Some(wrong) = self.comparisons.iter().find(|c| !c.matches()) {
            return Err(fail(format!(
                "{} reads back as {} where {} was written",
                wrong.field, wrong.device, wrong.expected
            )));
        }
        Ok(())
    }

    /// Gives up: discards what is staged on the device (best effort) and burns the ledger row.
    pub fn abandon(&mut self, rt: &Handle, session: &Session, ledger: &mut Ledger, failure: &Failure) {
        if self.staged_on_device {
            // NothingStaged (after a reset) is the outcome wanted; other errors leave the staged slot, which the
            // device drops on its next reset and never runs.
            let _ = on_device(rt, session.discard());
            self.staged_on_device = false;
        }
        if let Some(reservation) = &self.reservation
            && let Err(error) = ledger.fail(reservation.serial, &failure.to_string())
        {
            tracing::warn!(serial = reservation.serial, %error, "the ledger did not record a failed attempt; it is reconciled on the next start");
        }
    }
}

/// What a station did with one device.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The device's 64-bit id, as hex.
    pub device_id: String,
    /// The ledger serial, if one was reserved.
    pub serial: Option<i64>,
    /// The DevEUI, if one was reserved.
    pub dev_eui: Option<String>,
    /// Whether the device is committed, verified and recorded.
    pub passed: bool,
    /// Why not.
    pub failure: Option<Failure>,
    /// Steps completed, in order.
    pub steps_done: Vec<Step>,
    /// Wall time for the device, in seconds.
    pub elapsed_s: f64,
    /// Bytes sent and received on the device's link during the attempt (telemetry included).
    pub wire_bytes: u64,
}

impl Outcome {
    /// A device that failed before anything was written to it (its port did not open, the ledger did not).
    pub fn untouched(step: Step, reason: String, elapsed_s: f64) -> Outcome {
        Outcome {
            device_id: String::new(),
            serial: None,
            dev_eui: None,
            passed: false,
            failure: Some(Failure { step, reason, device_state: "nothing was written to the device".into() }),
            steps_done: Vec::new(),
            elapsed_s,
            wire_bytes: 0,
        }
    }

    /// One line: PASS with DevEUI, serial and time, or FAIL with what happened and what the device runs.
    pub fn summary(&self) -> String {
        let eui = self.dev_eui.as_deref().unwrap_or("-");
        match &self.failure {
            None => format!(
                "PASS device {} DevEUI {eui} serial {} in {:.2} s ({} bytes on the link)",
                self.device_id,
                self.serial.map_or("-".into(), |s| s.to_string()),
                self.elapsed_s,
                self.wire_bytes
            ),
            Some(failure) => format!("FAIL device {} DevEUI {eui}: {failure}", self.device_id),
        }
    }
}

/// Who is provisioning, with which template.
pub struct Station {
    /// The template.
    pub template: Template,
    /// Station name recorded in the ledger.
    pub station: String,
    /// Operator name recorded in the ledger.
    pub operator: String,
}

impl Station {
    /// The ledger request for a device, with a fresh AppKey (and MQTT password) from the OS random source.
    pub fn request_for(&self, device_id: u64) -> Result<ReserveRequest, KeyError> {
        let app_key = AppKey::generate_app_key()?;
        let dev_eui = self.template.dev_eui.source_for(device_id);
        let mqtt = match &self.template.mqtt {
            Some(mqtt) => {
                let password = match mqtt.password_length {
                    Some(length) => Password::generate_password(length)?,
                    None => Password::new(String::new()),
                };
                // Placeholders need the DevEUI; a block's is only known after the reservation, so they are
                // filled in the plan and the ledger row keeps the pattern's fill for a fixed DevEUI.
                let eui = match &dev_eui {
                    DevEuiSource::Fixed(eui) => *eui,
                    DevEuiSource::Block { start, .. } => *start,
                };
                Some(MqttCredentials {
                    client_id: MqttTemplate::fill(&mqtt.client_id, eui, device_id),
                    user: MqttTemplate::fill(&mqtt.user, eui, device_id),
                    password,
                })
            }
            None => None,
        };
        Ok(ReserveRequest {
            station: self.station.clone(),
            operator: self.operator.clone(),
            device_id,
            dev_eui,
            join_eui: self.template.join_eui,
            app_key,
            mqtt,
            network: self.template.network.clone(),
        })
    }

    /// The plan for a reservation.
    pub fn plan_for(
        &self,
        reservation: &Reservation,
        device_id: u64,
        app_key: AppKey,
        mqtt: Option<MqttCredentials>,
    ) -> DevicePlan {
        let template = &self.template;
        DevicePlan {
            dev_eui: reservation.dev_eui,
            join_eui: template.join_eui,
            app_key,
            reporting: template.reporting,
            adaptive: template.adaptive,
            mqtt: match (&template.mqtt, mqtt) {
                (Some(pattern), Some(credentials)) => Some((
                    MqttTemplate::fill(&pattern.client_id, reservation.dev_eui, device_id),
                    MqttTemplate::fill(&pattern.user, reservation.dev_eui, device_id),
                    credentials.password,
                )),
                _ => None,
            },
        }
    }

    /// Carries one connected device through every step; `progress` hears of each step as it completes.
    pub fn provision(
        &self,
        rt: &Handle,
        session: &Session,
        ledger: &mut Ledger,
        progress: &mut dyn FnMut(Step),
    ) -> Outcome {
        let started = Instant::now();
        let bytes = || {
            let stats = session.stats().snapshot();
            stats.bytes_rx + stats.bytes_tx
        };
        let bytes_before = bytes();
        let mut steps_done = Vec::new();
        let mut attempt = match Attempt::identify(rt, session) {
            Ok(attempt) => attempt,
            Err(failure) => {
                return Outcome {
                    device_id: format!("{:016X}", session.info().device_id),
                    serial: None,
                    dev_eui: None,
                    passed: false,
                    failure: Some(failure),
                    steps_done,
                    elapsed_s: started.elapsed().as_secs_f64(),
                    wire_bytes: bytes() - bytes_before,
                };
            }
        };
        steps_done.push(Step::Identify);
        progress(Step::Identify);
        let result = self.run_steps(rt, session, ledger, &mut attempt, &mut steps_done, progress);
        if let Err(failure) = &result {
            attempt.abandon(rt, session, ledger, failure);
        }
        Outcome {
            device_id: format!("{:016X}", attempt.device_id()),
            serial: attempt.reservation.as_ref().map(|r| r.serial),
            dev_eui: attempt.reservation.as_ref().map(|r| r.dev_eui.to_string()),
            passed: result.is_ok(),
            failure: result.err(),
            steps_done,
            elapsed_s: started.elapsed().as_secs_f64(),
            wire_bytes: bytes() - bytes_before,
        }
    }

    fn run_steps(
        &self,
        rt: &Handle,
        session: &Session,
        ledger: &mut Ledger,
        attempt: &mut Attempt,
        steps_done: &mut Vec<Step>,
        progress: &mut dyn FnMut(Step),
    ) -> Result<(), Failure> {
        let device_id = attempt.device_id();
        let mut done = |step: Step, steps_done: &mut Vec<Step>| {
            steps_done.push(step);
            progress(step);
        };
        let request = self.request_for(device_id).map_err(|e| Failure {
            step: Step::Reserve,
            reason: e.to_string(),
            device_state: "nothing was written to the device".into(),
        })?;
        attempt.reserve(ledger, request, |reservation, key, mqtt| self.plan_for(reservation, device_id, key, mqtt))?;
        done(Step::Reserve, steps_done);
        attempt.stage(rt, session)?;
        done(Step::Stage, steps_done);
        attempt.check(rt, session)?;
        done(Step::Check, steps_done);
        attempt.commit(rt, session)?;
        let serial = in_order(attempt.reservation.as_ref().map(|r| r.serial), Step::Commit, Step::Reserve)?;
        let ledger_failure = |step: Step, error: LedgerError| Failure {
            step,
            reason: format!("the ledger did not record the step: {error}"),
            device_state: "the device committed the new configuration; the ledger burns this attempt, so \
                           provision the device again"
                .into(),
        };
        ledger.mark_programmed(serial).map_err(|e| ledger_failure(Step::Commit, e))?;
        done(Step::Commit, steps_done);
        attempt.read_back(rt, session)?;
        ledger.mark_verified(serial).map_err(|e| ledger_failure(Step::ReadBack, e))?;
        done(Step::ReadBack, steps_done);
        ledger.commit(serial).map_err(|e| ledger_failure(Step::Record, e))?;
        done(Step::Record, steps_done);
        Ok(())
    }
}

/// Default patience of a provisioning session: short waits, several attempts (every request is idempotent).
pub fn session_options() -> crate::io::session::SessionOptions {
    crate::io::session::SessionOptions { timeout: Duration::from_millis(400), attempts: 5 }
}
