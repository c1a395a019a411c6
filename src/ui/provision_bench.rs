//! The bench provisioning worker: one device, one step per button, on its own thread.
//!
//! The worker owns the device's session, the ledger connection and the [`Attempt`]; the window sends it a
//! command per button and reads a shared [`BenchStatus`] each frame, so the window never waits on a device or
//! a database. Closing (or a failure) discards what is staged and burns the ledger row, leaving the device on
//! its previous configuration.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use eframe::egui;
use firmware_protocol::config::ConfigView;
use firmware_protocol::device::DeviceInfo;
use tokio::runtime::Handle;

use crate::io::session::Session;
use crate::model::source::Source;
use crate::provision::flow::{Attempt, Comparison, DevicePlan, Failure, Step, session_options};
use crate::provision::ledger::{DevEuiSource, Ledger, MqttCredentials, ReserveRequest};
use crate::provision::record::NetworkProfile;

/// What the user filled in: the plan (secrets included; they leave only to the ledger and the device) and
/// where to record it.
#[derive(Debug, Clone)]
pub struct BenchForm {
    /// What to write into the device.
    pub plan: DevicePlan,
    /// The ledger's URL.
    pub ledger_url: String,
    /// Station name.
    pub station: String,
    /// Operator name.
    pub operator: String,
}

/// A button's command.
pub enum BenchCommand {
    /// Reserve in the ledger and stage the form on the device.
    Stage(Box<BenchForm>),
    /// Compare the staged check values with ours.
    Check,
    /// Commit on the device.
    Commit,
    /// Read back, compare, and record the commit in the ledger.
    ReadBack,
    /// Give up this attempt (discard and burn).
    Abandon,
}

/// Where each step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Not reached.
    Pending,
    /// Done.
    Done,
    /// Failed with this message.
    Failed(String),
}

/// What the window shows of the worker.
#[derive(Debug, Clone)]
pub struct BenchStatus {
    /// Connecting, or running a step.
    pub busy: Option<&'static str>,
    /// The device, once identified.
    pub info: Option<DeviceInfo>,
    /// Its configuration before this attempt (and after a read-back, the new one).
    pub config: Option<ConfigView>,
    /// Each step's state, in [`Step::ALL`] order.
    pub steps: Vec<(Step, StepState)>,
    /// The last check or read-back.
    pub comparisons: Vec<Comparison>,
    /// The last failure, or a closing success message.
    pub message: Option<(bool, String)>,
    /// The ledger serial of the attempt.
    pub serial: Option<i64>,
    /// True when the device can no longer be used (it did not open).
    pub closed: bool,
}

impl BenchStatus {
    fn new() -> Self {
        BenchStatus {
            busy: Some("connecting"),
            info: None,
            config: None,
            steps: Step::ALL.iter().map(|s| (*s, StepState::Pending)).collect(),
            comparisons: Vec::new(),
            message: None,
            serial: None,
            closed: false,
        }
    }

    fn set(&mut self, step: Step, state: StepState) {
        if let Some(entry) = self.steps.iter_mut().find(|(s, _)| *s == step) {
            entry.1 = state;
        }
    }

    /// The state of a step.
    pub fn state(&self, step: Step) -> &StepState {
        self.steps.iter().find(|(s, _)| *s == step).map_or(&StepState::Pending, |(_, state)| state)
    }
}

/// A running bench worker.
pub struct BenchWorker {
    /// The source it opened.
    pub source: String,
    commands: Sender<BenchCommand>,
    status: Arc<Mutex<BenchStatus>>,
}

impl BenchWorker {
    /// Opens `source` and reads its identity and configuration on a new thread.
    pub fn start(rt: Handle, source: Source, repaint: egui::Context) -> BenchWorker {
        let status = Arc::new(Mutex::new(BenchStatus::new()));
        let (commands, rx) = channel();
        let shared = status.clone();
        let name = source.to_string();
        let spawned = std::thread::Builder::new()
            .name("provision-bench".into())
            .spawn(move || worker(rt, source, rx, shared, repaint));
        if let Err(error) = spawned {
            let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
            s.busy = None;
            s.closed = true;
            s.message = Some((true, format!("could not start the provisioning worker: {error}")));
        }
        BenchWorker { source: name, commands, status }
    }

    /// Sends a button's command.
    pub fn send(&self, command: BenchCommand) {
        let _ = self.commands.send(command);
    }

    /// A copy of the current status.
    pub fn status(&self) -> BenchStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn worker(
    rt: Handle,
    source: Source,
    commands: Receiver<BenchCommand>,
    status: Arc<Mutex<BenchStatus>>,
    repaint: egui::Context,
) {
    let update = |f: &mut dyn FnMut(&mut BenchStatus)| {
        f(&mut status.lock().unwrap_or_else(|e| e.into_inner()));
        repaint.request_repaint();
    };
    let session = match rt.block_on(Session::open(&source, session_options())) {
        Ok(session) => session,
        Err(error) => {
            update(&mut |s| {
                s.busy = None;
                s.closed = true;
                let mut text = format!("{source}: {error}");
                if text.contains("exclusive lock") {
                    text.push_str(
                        ". The port is open elsewhere: disconnect it in the devices panel, then read it here",
                    );
                }
                s.message = Some((true, text.clone()));
            });
            return;
        }
    };
    let mut attempt = match Attempt::identify(&rt, &session) {
        Ok(attempt) => attempt,
        Err(failure) => {
            update(&mut |s| {
                s.busy = None;
                s.closed = true;
                s.set(Step::Identify, StepState::Failed(failure.reason.clone()));
                s.message = Some((true, failure.to_string()));
            });
            return;
        }
    };
    update(&mut |s| {
        s.busy = None;
        s.info = Some(attempt.info.clone());
        s.config = Some(attempt.previous.clone());
        s.set(Step::Identify, StepState::Done);
    });
    let mut ledger: Option<Ledger> = None;
    let mut recorded = false;
    while let Ok(command) = commands.recv() {
        if matches!(command, BenchCommand::Abandon) && (recorded || attempt.reservation.is_none()) {
            // Nothing staged or reserved (or already recorded): closing changes nothing.
            break;
        }
        let step = match &command {
            BenchCommand::Stage(_) => Step::Stage,
            BenchCommand::Check => Step::Check,
            BenchCommand::Commit => Step::Commit,
            BenchCommand::ReadBack => Step::ReadBack,
            BenchCommand::Abandon => Step::Record,
        };
        update(&mut |s| {
            s.busy = Some(step.label());
            s.message = None;
        });
        let result: Result<Option<String>, Failure> = match command {
            BenchCommand::Stage(form) => {
                stage(&rt, &session, &mut ledger, &mut attempt, *form).map(|()| None).inspect(|_| {
                    let serial = attempt.reservation.as_ref().map(|r| r.serial);
                    update(&mut |s| {
                        s.set(Step::Reserve, StepState::Done);
                        s.serial = serial;
                    });
                })
            }
            BenchCommand::Check => attempt.check(&rt, &session).map(|()| None),
            BenchCommand::Commit => attempt.commit(&rt, &session).and_then(|()| {
                ledger_step(&mut ledger, &attempt, Step::Commit, |l, serial| l.mark_programmed(serial)).map(|()| None)
            }),
            BenchCommand::ReadBack => attempt
                .read_back(&rt, &session)
                .and_then(|()| ledger_step(&mut ledger, &attempt, Step::ReadBack, |l, serial| l.mark_verified(serial)))
                .and_then(|()| ledger_step(&mut ledger, &attempt, Step::Record, |l, serial| l.commit(serial)))
                .map(|()| {
                    recorded = true;
                    let eui = attempt.plan.as_ref().map(|p| p.dev_eui.to_string()).unwrap_or_default();
                    Some(format!("Provisioned and verified: DevEUI {eui} is committed in the ledger"))
                }),
            BenchCommand::Abandon => Err(Failure {
                step: Step::Record,
                reason: "abandoned by the user".into(),
                device_state: "the staged configuration is discarded; the device runs its previous one".into(),
            }),
        };
        let comparisons = attempt.comparisons.clone();
        let read_back =
            (step == Step::ReadBack && result.is_ok()).then(|| rt.block_on(session.read_config()).ok()).flatten();
        match result {
            Ok(message) => update(&mut |s| {
                s.busy = None;
                s.set(step, StepState::Done);
                if step == Step::ReadBack {
                    s.set(Step::Record, StepState::Done);
                }
                s.comparisons = comparisons.clone();
                if let Some(view) = &read_back {
                    s.config = Some(view.clone());
                }
                s.message = message.clone().map(|m| (false, m));
            }),
            Err(failure) => {
                if let Some(ledger) = ledger.as_mut() {
                    attempt.abandon(&rt, &session, ledger, &failure);
                }
                update(&mut |s| {
                    s.busy = None;
                    s.set(failure.step, StepState::Failed(failure.reason.clone()));
                    s.comparisons = comparisons.clone();
                    s.message = Some((true, failure.to_string()));
                    s.closed = true;
                });
                break;
            }
        }
    }
    session.close();
}

fn ledger_step(
    ledger: &mut Option<Ledger>,
    attempt: &Attempt,
    step: Step,
    call: impl FnOnce(&mut Ledger, i64) -> Result<(), crate::provision::ledger::LedgerError>,
) -> Result<(), Failure> {
    let serial = attempt.reservation.as_ref().map(|r| r.serial);
    match (ledger.as_mut(), serial) {
        (Some(ledger), Some(serial)) => call(ledger, serial).map_err(|e| Failure {
            step,
            reason: format!("the ledger did not record the step: {e}"),
            device_state: "see the device's configuration; the ledger burns this attempt".into(),
        }),
        _ => Err(Failure { step, reason: "nothing is reserved".into(), device_state: "unchanged".into() }),
    }
}

fn stage(
    rt: &Handle,
    session: &Session,
    ledger: &mut Option<Ledger>,
    attempt: &mut Attempt,
    form: BenchForm,
) -> Result<(), Failure> {
    let unchanged = || "nothing was written to the device".to_string();
    if ledger.is_none() {
        let ledger_failure = |e: crate::provision::ledger::LedgerError| Failure {
            step: Step::Reserve,
            reason: e.to_string(),
            device_state: unchanged(),
        };
        let mut opened = Ledger::open(&form.ledger_url).map_err(ledger_failure)?;
        // Attempts this station left unfinished (the window closed or crashed mid-device) are burned now.
        let interrupted = opened.reconcile(&form.station).map_err(ledger_failure)?;
        if !interrupted.is_empty() {
            tracing::warn!(count = interrupted.len(), station = %form.station, "unfinished attempts burned");
        }
        *ledger = Some(opened);
    }
    let Some(ledger) = ledger.as_mut() else { unreachable!("opened above") };
    let plan = form.plan;
    let request = ReserveRequest {
        station: form.station,
        operator: form.operator,
        device_id: attempt.device_id(),
        dev_eui: DevEuiSource::Fixed(plan.dev_eui),
        join_eui: plan.join_eui,
        app_key: plan.app_key.clone(),
        mqtt: plan.mqtt.as_ref().map(|(client_id, user, password)| MqttCredentials {
            client_id: client_id.clone(),
            user: user.clone(),
            password: password.clone(),
        }),
        network: NetworkProfile {
            mac_version: "MAC_V1_0_4".into(),
            phy_version: "RP002_V1_0_3".into(),
            frequency_plan_id: "EU_863_870_TTN".into(),
            tr005_profile_id: "00000000".into(),
        },
    };
    attempt.reserve(ledger, request, move |_, _, _| plan)?;
    attempt.stage(rt, session)
}
